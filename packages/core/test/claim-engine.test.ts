import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  ClaimEngine,
  EXCLUSIVE,
  InvalidOptionError,
  KeyQueue,
  LockEngine,
  LockLostError,
  MemoryClaimDriver,
  MemoryClaimStore,
  MemoryDriver,
  MemoryLock,
  MemoryLockStore,
  MemoryReadWriteLock,
  MemorySemaphore,
  ReadWriteLockEngine,
  SHARED,
  type AcquireRequest,
  type AcquireResult,
  type Claim,
  type ClaimKind,
  type HeldLock,
  type LockHandle,
} from '../src/index.js';

/** The memory claim driver, counting what the engine asks of it. */
class CountingClaimDriver extends MemoryClaimDriver {
  requests: AcquireRequest[] = [];
  renewBatches: number[] = [];

  override acquire(request: AcquireRequest): Promise<AcquireResult<undefined>> {
    this.requests.push(request);
    return super.acquire(request);
  }

  override async renewMany(locks: readonly HeldLock<undefined>[]): Promise<Array<boolean | Error>> {
    this.renewBatches.push(locks.length);
    return super.renewMany(locks);
  }
}

/** An engine that exposes the claim API to the test. */
class TestEngine extends ClaimEngine<undefined> {
  readonly driver: CountingClaimDriver;
  constructor(store = new MemoryClaimStore(), claims: readonly ClaimKind[] = ['exclusive', 'shared', 'permits']) {
    const driver = new CountingClaimDriver(store, claims);
    super(driver, { maxRetryDelay: 1_000 }, { names: [], what: 'new TestEngine()' });
    this.driver = driver;
  }
  try(key: string, claim: Claim, ttl = 60_000): Promise<LockHandle | null> {
    return this.tryAcquireClaim(key, claim, { ttl });
  }
  take(key: string, claim: Claim, options: { ttl?: number; waitTimeout?: number; signal?: AbortSignal } = {}): Promise<LockHandle> {
    return this.acquireClaim(key, claim, { ttl: 60_000, ...options });
  }
}

describe('ClaimEngine: claims', () => {
  it('refuses a bad or unserved claim with InvalidOptionError before any I/O', async () => {
    const engine = new TestEngine(new MemoryClaimStore(), ['exclusive', 'shared']);
    const bad: unknown[] = [
      null,
      'shared',
      { kind: 'read' },
      { kind: 'permits', permits: 1, limit: 2 }, // not served by this driver
    ];
    for (const claim of bad) {
      await expect(engine.try('k', claim as Claim)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(engine.take('k', claim as Claim)).rejects.toBeInstanceOf(InvalidOptionError);
    }
    const permits = new TestEngine(new MemoryClaimStore(), ['permits']);
    const badPermits: Array<[unknown, unknown, string]> = [
      [0, 3, 'permits'],
      [4, 3, 'permits'],
      [1.5, 3, 'permits'],
      ['1', 3, 'permits'],
      [1, 0, 'limit'],
      [1, 2.5, 'limit'],
      [1, 2 ** 31, 'limit'],
    ];
    for (const [n, limit, option] of badPermits) {
      const error = await permits.try('k', { kind: 'permits', permits: n, limit } as Claim).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
    }
    await expect(permits.try('k', EXCLUSIVE)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(engine.driver.requests).toHaveLength(0);
    expect(permits.driver.requests).toHaveLength(0);
    await engine.close();
    await permits.close();
  });

  it('sends the caller claim, a frozen copy of permits, and waiting only for callers that wait', async () => {
    const engine = new TestEngine();
    const claim = { kind: 'permits' as const, permits: 2, limit: 3 };
    const h = (await engine.try('p', claim))!;
    claim.permits = 3; // the caller's object changing later cannot change the request
    const [sent] = engine.driver.requests;
    expect(sent).toMatchObject({ key: 'p', claim: { kind: 'permits', permits: 2, limit: 3 }, waiting: false });
    expect(Object.isFrozen(sent!.claim)).toBe(true);
    const r = await engine.take('s', SHARED);
    expect(engine.driver.requests.at(-1)).toMatchObject({ key: 's', claim: SHARED, waiting: true });
    await h.release();
    await r.release();
    await engine.close();
  });

  it('a driver that serves shared claims cannot hand over; a read-write lock needs a wait list and inspectHolders', () => {
    const driver = new MemoryClaimDriver(new MemoryClaimStore(), ['exclusive', 'shared']);
    const withTransfer = Object.assign(Object.create(driver) as MemoryClaimDriver, {
      features: { ...driver.features, transfer: async () => ({ acquired: false as const, retryAfter: 0 }) },
    });
    expect(() => new ClaimEngine(withTransfer, {}, { names: [], what: 'x' })).toThrow(/hand-over is a mutex feature/);
    const noList = Object.assign(Object.create(driver) as MemoryClaimDriver, { features: { ...driver.features, waitList: undefined } });
    expect(() => new ReadWriteLockEngine(noList, {}, { names: [], what: 'x' })).toThrow(InvalidOptionError);
    const mutexDriver = new MemoryDriver(new MemoryLockStore());
    expect(() => new ReadWriteLockEngine(mutexDriver, {}, { names: [], what: 'x' })).toThrow(/shared/);
    // A read-write lock refuses the mutex's hand-over option: it has none.
    expect(() => new MemoryReadWriteLock({ maxLocalHandOvers: 2 } as never)).toThrow(/unknown option/);
    expect(() => new MemorySemaphore({ store: {} as never })).toThrow(InvalidOptionError);
  });
});

describe('ClaimEngine: waking by claim', () => {
  it('a writer release costs one attempt per waiting reader, and they all enter', async () => {
    const store = new MemoryClaimStore();
    const engine = new TestEngine(store);
    const w = await engine.take('k', EXCLUSIVE);
    const readers = Array.from({ length: 5 }, () => engine.take('k', SHARED));
    await sleep(30);
    const before = engine.driver.requests.length;
    await w.release();
    const handles = await Promise.all(readers);
    expect(engine.driver.requests.length - before).toBe(5);
    expect(handles.every((h) => h.held)).toBe(true);
    await Promise.all(handles.map((h) => h.release()));
    expect(store.size).toBe(0);
    await engine.close();
  });

  it('a permit release wakes only as many waiters as could fit, in order', async () => {
    const engine = new TestEngine();
    const claim = (permits: number): Claim => ({ kind: 'permits', permits, limit: 4 });
    const all = await engine.take('k', claim(4));
    const got: Array<LockHandle | undefined> = [];
    const waiters = [3, 1, 1, 2].map((n, i) => engine.take('k', claim(n)).then((h) => (got[i] = h)));
    await sleep(30);
    let before = engine.driver.requests.length;
    await all.release();
    await sleep(30);
    // 4 free permits: the 3 and the first 1 are woken and enter; the next 1 is not woken.
    expect(got.map(Boolean)).toEqual([true, true]);
    expect(engine.driver.requests.length - before).toBe(2);
    before = engine.driver.requests.length;
    await got[0]!.release();
    await Promise.all(waiters);
    // 3 freed: the 1 and the 2 behind it fit, and exactly they try.
    expect(engine.driver.requests.length - before).toBe(2);
    await Promise.all(got.slice(1).map((h) => h!.release()));
    await engine.close();
  });

  it('KeyQueue.notify wakes readers up to the first writer, permits up to the limit, and one ticket without a claim', async () => {
    const queue = new KeyQueue();
    const woken: string[] = [];
    const sleepers = (key: string, claims: Array<[string, Claim | undefined]>) =>
      claims.map(([name, c]) => {
        const t = queue.enqueue(key, c);
        void t.sleep(60_000).then(() => woken.push(name));
        return t;
      });
    const rw = sleepers('rw', [['r1', SHARED], ['r2', SHARED], ['w', EXCLUSIVE], ['r3', SHARED]]);
    const sem = sleepers('sem', [
      ['p2', { kind: 'permits', permits: 2, limit: 4 }],
      ['p1', { kind: 'permits', permits: 1, limit: 4 }],
      ['p3', { kind: 'permits', permits: 3, limit: 4 }],
      ['p1b', { kind: 'permits', permits: 1, limit: 4 }],
    ]);
    const mutex = sleepers('m', [['m1', undefined], ['m2', undefined]]);
    queue.notify('rw');
    queue.notify('sem');
    queue.notify('m');
    await sleep(5);
    expect(woken.sort()).toEqual(['m1', 'p1', 'p2', 'r1', 'r2']);
    for (const t of [...rw, ...sem, ...mutex]) {
      t.wake();
      t.leave(true);
    }
    expect(queue.keys).toBe(0);
  });

  it('a release while a ticket with a claim is mid-attempt ends its next sleep at once', async () => {
    const queue = new KeyQueue();
    const awake = queue.enqueue('k', EXCLUSIVE);
    const asleep = queue.enqueue('k', SHARED);
    void asleep.sleep(60_000);
    queue.notify('k'); // `awake` is mid-attempt: its answer may predate this release
    const startedAt = performance.now();
    await awake.sleep(60_000);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(awake.woken).toBe(true);
    awake.leave(true);
    asleep.leave(true);
  });
});

describe('ClaimEngine: leases for every claim', () => {
  it('the watchdog renews readers and permits in one batch, and the lost signal fires for a shared holder', async () => {
    const store = new MemoryClaimStore();
    const engine = new TestEngine(store);
    const r1 = await engine.take('a', SHARED, { ttl: 300 });
    const r2 = await engine.take('a', SHARED, { ttl: 300 });
    const p = await engine.take('b', { kind: 'permits', permits: 1, limit: 2 }, { ttl: 300 });
    const stops = [r1, r2, p].map((h) => engine.autoRenew(h));
    await sleep(700);
    expect([r1, r2, p].every((h) => h.held)).toBe(true);
    expect(engine.driver.renewBatches.length).toBeGreaterThan(0);
    expect(Math.max(...engine.driver.renewBatches)).toBe(3);
    stops.forEach((stop) => stop());
    // Released behind the engine's back: the next renewal finds it gone.
    store.release('a', r1.token);
    await expect(engine.renew(r1)).rejects.toThrow(/expired or was taken over/);
    expect(r1.signal.reason).toBeInstanceOf(LockLostError);
    expect(r2.held).toBe(true);
    await engine.close();
    expect(r2.held).toBe(false);
    expect(store.size).toBe(0);
  });

  it('a mutex LockEngine is unchanged: exclusive only, with hand-over', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore(), maxLocalHandOvers: 2 });
    expect(lock).toBeInstanceOf(LockEngine);
    expect(lock).toBeInstanceOf(ClaimEngine);
    const h = (await lock.tryLock('k'))!;
    expect(await lock.tryLock('k')).toBeNull();
    await h.release();
    await lock.close();
  });
});
