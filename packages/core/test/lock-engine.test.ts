import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, LockBackendError, LockEngine, LockLostError, LockReleasedError, MemoryDriver, MemoryLock, MemoryLockStore, type AcquireRequest, type Clock } from '../src/index.js';
import { CountingLock } from './counting-lock.js';

describe('LockEngine waiting', () => {
  it('a release wakes one waiter of the instance, not all of them', async () => {
    const lock = new CountingLock(undefined, { maxLocalHandOvers: 0 });
    const holder = await lock.lock('k', { ttl: 60_000 });
    const order: number[] = [];
    const waiters = Array.from({ length: 10 }, (_, i) =>
      lock.lock('k', { ttl: 60_000 }).then(async (h) => {
        order.push(i);
        await sleep(5);
        await h.release();
      }),
    );
    await sleep(50);
    const before = lock.acquires;
    await holder.release();
    await Promise.all(waiters);
    // Each of the 10 hand-offs costs exactly one acquire attempt: nobody retried in vain.
    expect(lock.acquires - before).toBe(10);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await lock.close();
  });

  it('unlock() hands the lock to the next local waiter in one step, new fencing token each time, at most maxLocalHandOvers in a row', async () => {
    const store = new MemoryLockStore();
    const lock = new CountingLock(store, { maxLocalHandOvers: 3 });
    const holder = await lock.lock('k', { ttl: 60_000 });
    const got: Array<{ i: number; fence: bigint; validFor: number }> = [];
    const waiters = Array.from({ length: 6 }, (_, i) =>
      lock.lock('k', { ttl: 5_000 + i }).then(async (h) => {
        got.push({ i, fence: h.fencingToken, validFor: h.validUntil - performance.now() });
        expect(h.held).toBe(true);
        expect((await lock.inspect('k'))?.fencingToken).toBe(h.fencingToken);
        await sleep(2);
        await h.release();
      }),
    );
    await sleep(30);
    const acquiresBefore = lock.acquires;
    await holder.release();
    expect(holder.signal.reason).toBeInstanceOf(LockReleasedError);
    await Promise.all(waiters);
    expect(got.map((g) => g.i)).toEqual([0, 1, 2, 3, 4, 5]);
    // Fences strictly increase along the queue, starting above the first holder's.
    const fences = [holder.fencingToken, ...got.map((g) => g.fence)];
    for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
    // Each waiter's lease is its own TTL (5 000 + i ms), counted from the hand-over.
    got.forEach((g) => expect(g.validFor).toBeGreaterThan(4_000)); // its own TTL (the holder's was 60 s)
    got.forEach((g) => expect(g.validFor).toBeLessThanOrEqual(5_000 + g.i));
    // 3 hand-overs, a real release (the run limit), the next waiter acquires, 2 more hand-overs.
    expect(lock.transfers).toBe(5);
    expect(lock.acquires - acquiresBefore).toBe(1);
    expect(store.size).toBe(0);
    await lock.close();
  });

  it('a waiter aborted while the lock is handed to it gives it back; the next waiter gets it', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const holder = await lock.lock('k', { ttl: 60_000 });
    const controller = new AbortController();
    const first = lock.lock('k', { ttl: 60_000, signal: controller.signal }).catch((e: unknown) => e);
    const second = lock.lock('k', { ttl: 60_000, waitTimeout: 2_000 });
    await sleep(10);
    const released = holder.release(); // hands over to `first`...
    controller.abort(new Error('gone')); // ...which aborts before it sees the handle
    await released;
    expect(await first).toEqual(new Error('gone'));
    const h = await second;
    expect(h.held).toBe(true);
    expect(h.fencingToken).toBeGreaterThan(holder.fencingToken);
    await h.release();
    expect(await lock.isLocked('k')).toBe(false);
    await lock.close();
  });

  it('a woken waiter that aborts passes the wake-up to the next one', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const holder = await lock.lock('k', { ttl: 60_000 });
    const controller = new AbortController();
    const first = lock.lock('k', { ttl: 60_000, signal: controller.signal }).catch((e: unknown) => e);
    await sleep(10);
    const second = lock.lock('k', { ttl: 60_000 });
    await sleep(10);
    const releasedAt = performance.now();
    // The release wakes `first` synchronously; it aborts before it can retry.
    const released = holder.release();
    controller.abort(new Error('gone'));
    await released;
    expect(await first).toBeInstanceOf(Error);
    const h = await second;
    // Passed on at once, not after the 60 s lease `second` would otherwise sleep out (the
    // bound leaves room for a loaded machine).
    expect(performance.now() - releasedAt).toBeLessThan(1_000);
    await h.release();
    await lock.close();
  });

  it('a newcomer does not barge past waiters already queued in the instance', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const holder = await lock.lock('k');
    const got: string[] = [];
    const queued = lock.lock('k').then(async (h) => {
      got.push('queued');
      await h.release();
    });
    await sleep(10);
    await holder.release();
    const late = lock.lock('k').then(async (h) => {
      got.push('late');
      await h.release();
    });
    await Promise.all([queued, late]);
    expect(got).toEqual(['queued', 'late']);
    await lock.close();
  });
});

describe('LockEngine handles', () => {
  it('validity is measured on the injected monotonic clock, never Date.now', async () => {
    let now = 1_000;
    const clock: Clock = { now: () => now };
    const lock = new MemoryLock({ store: new MemoryLockStore(), clock });
    const realDateNow = Date.now;
    Date.now = () => realDateNow() + 3_600_000; // a wall-clock jump must change nothing
    try {
      const h = await lock.lock('k', { ttl: 5_000 });
      expect(h.validUntil).toBe(6_000);
      now = 2_000;
      await h.extend(10_000);
      expect(h.validUntil).toBe(12_000);
      await h.release();
    } finally {
      Date.now = realDateNow;
      await lock.close();
    }
  });

  it('release aborts the signal with LockReleasedError; expiry with LockLostError', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const h = await lock.lock('a');
    await h.release();
    expect(h.signal.reason).toBeInstanceOf(LockReleasedError);
    const short = await lock.lock('b', { ttl: 30 });
    await sleep(80);
    expect(short.signal.reason).toBeInstanceOf(LockLostError);
    expect((short.signal.reason as LockLostError).message).toContain('"b"');
    await lock.close();
  });

  it('a handle of another instance is rejected as bad input', async () => {
    const store = new MemoryLockStore();
    const a = new MemoryLock({ store });
    const b = new MemoryLock({ store });
    const h = await a.lock('k');
    await expect(b.unlock(h)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(b.renew(h)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(h.held).toBe(true);
    expect(await b.isLocked('k')).toBe(true);
    await a.close();
    await b.close();
  });

  it('two handles of one process never release each other (ownership is the token)', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const old = await lock.lock('k', { ttl: 30 });
    await sleep(60);
    const current = await lock.lock('k', { ttl: 60_000 });
    expect(old.token).not.toBe(current.token);
    await expect(old.release()).rejects.toThrow(/not held/);
    expect(current.held).toBe(true);
    expect(await lock.isLocked('k')).toBe(true);
    await lock.close();
  });

  it('JSON output never shows the whole token', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const h = await lock.lock('k');
    const json = JSON.stringify(h);
    expect(json).not.toContain(h.token);
    expect(json).toContain(h.token.slice(0, 8));
    await lock.close();
  });

  it('bad constructor options are rejected', () => {
    expect(() => new MemoryLock({ defaultTtl: 0 })).toThrow(InvalidOptionError);
    expect(() => new MemoryLock({ maxRetryDelay: -1 })).toThrow(/maxRetryDelay/);
    for (const bad of [-1, 1.5, Number.NaN, '2']) {
      expect(() => new MemoryLock({ maxLocalHandOvers: bad as number })).toThrow(/^maxLocalHandOvers must be an integer >= 0/);
    }
  });
});

describe('expiry', () => {
  it('a renewal to a shorter TTL moves the loss report earlier; a longer one moves it later', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    const shortened = await lock.lock('short', { ttl: 5_000 });
    await shortened.extend(100);
    const lengthened = await lock.lock('long', { ttl: 100 });
    await lengthened.extend(5_000);
    await sleep(300);
    expect(shortened.held).toBe(false);
    expect(shortened.signal.reason).toBeInstanceOf(LockLostError);
    expect(lengthened.held).toBe(true); // its first timer fired, saw the later deadline, waited again
    await lengthened.release();
    await lock.close();
  });
});

describe('watchdog', () => {
  it('renews many held locks in one batch per tick', async () => {
    const lock = new CountingLock();
    // A 1.2 s TTL: renewed every 400 ms, a handle up to 200 ms early, so handles added a little
    // apart (a loaded machine may pause this process for tens of ms) still share every tick.
    const handles = await Promise.all(Array.from({ length: 200 }, (_, i) => lock.lock(`k${i}`, { ttl: 1_200 })));
    const stops = handles.map((h) => lock.autoRenew(h));
    await sleep(1_800);
    expect(handles.every((h) => h.held)).toBe(true);
    // ~4 renewal rounds in 1 800 ms at ttl/3 = 400 ms (3 with late timers); each round is one batch of all 200.
    expect(lock.renewBatches.length).toBeGreaterThanOrEqual(3);
    expect(lock.renewBatches.every((n) => n === 200)).toBe(true);
    stops.forEach((stop) => stop());
    const batches = lock.renewBatches.length;
    await sleep(1_000); // 2.5 intervals
    expect(lock.renewBatches.length).toBe(batches);
    await lock.close();
  });

  it('keeps retrying through a transient outage and reports loss only past validity', async () => {
    const lock = new CountingLock();
    const h = await lock.lock('k', { ttl: 300 });
    lock.autoRenew(h);
    await sleep(150);
    lock.failRenewals = true;
    const failingFrom = performance.now();
    const lostAt = await new Promise<number>((resolve) =>
      h.signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
    );
    expect(h.signal.reason).toBeInstanceOf(LockLostError);
    // The last successful renewal was at most ttl/3 before the outage: loss comes near validUntil.
    expect(lostAt - failingFrom).toBeGreaterThan(100);
    expect(lock.renewBatches.length).toBeGreaterThan(3);
    await lock.close();
  });

  it('a lock renewed through the outage survives when the backend comes back', async () => {
    const lock = new CountingLock();
    const h = await lock.lock('k', { ttl: 600 });
    lock.autoRenew(h);
    lock.failRenewals = true;
    await sleep(250);
    lock.failRenewals = false;
    await sleep(900);
    expect(h.held).toBe(true);
    await lock.close();
  });
});

describe('LockEngine late acquire answers', () => {
  it('an answer that arrives after the lease ended is not a lock: released; tryLock says why, lock() retries', async () => {
    let now = 0;
    const store = new MemoryLockStore();
    class SlowDriver extends MemoryDriver {
      slow = true;
      override async acquire(request: AcquireRequest) {
        const r = await super.acquire(request);
        await new Promise((resolve) => setImmediate(resolve)); // a round trip, as real I/O
        if (this.slow) now += request.ttl + 5; // the reply took longer than the lease
        return r;
      }
    }
    const driver = new SlowDriver(store);
    const lock = new LockEngine(driver, { clock: { now: () => now } }, { names: [], what: 'new SlowLock()' });
    // The key was free: "held by someone else" (null) would be a lie. A typed error tells the truth.
    const error = await lock.tryLock('k', { ttl: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    expect(String((error as Error).message)).toMatch(/answer came \d+ ms after the request, when its 50 ms lease had already run out/);
    expect(store.size).toBe(0);
    const waiting = lock.lock('k', { ttl: 50, waitTimeout: 10_000_000 });
    await sleep(5);
    driver.slow = false;
    const h = await waiting;
    expect(h.validUntil).toBeGreaterThan(now);
    await lock.close();
  });
});
