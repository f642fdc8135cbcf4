import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  LockLostError,
  LockNotHeldError,
  LockService,
  MemoryLock,
  MemoryLockStore,
  type LockEventOf,
  type LockHandle,
} from '../src/index.js';
import { CountingLock } from './counting-lock.js';

/** Runs `n` same-key callers at once (they queue in call order); resolves with their values. */
function burst<T>(service: LockService, n: number, fn: (h: LockHandle, i: number) => Promise<T> | T, key = 'k'): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => service.withLock(key, (h) => fn(h, i))));
}

function acquiredEvents(service: LockService): Array<LockEventOf<'acquired'>> {
  const events: Array<LockEventOf<'acquired'>> = [];
  service.events.on('acquired', (e) => events.push(e));
  return events;
}

describe('LockService coalesce with hand-over', () => {
  it('passes one backend lock along the local queue, one holder at a time', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOvers: 100, maxHandOverMs: 10_000 } });
    const acquired = acquiredEvents(service);
    let inside = 0;
    let maxInside = 0;
    await burst(service, 20, async (h) => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      expect(h.held).toBe(true);
      expect(h.validUntil).toBeGreaterThan(performance.now());
      expect(await service.isLocked('k')).toBe(true);
      await sleep(1);
      inside--;
    });
    expect(maxInside).toBe(1);
    expect(lock.acquires).toBe(1);
    expect(acquired.filter((e) => e.handedOver)).toHaveLength(19);
    expect(new Set(acquired.map((e) => e.fencingToken)).size).toBe(1);
    expect(await service.isLocked('k')).toBe(false);
    await service.close();
  });

  it('plain coalesce: true does not hand over (one backend acquire per caller)', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: true });
    await burst(service, 10, () => sleep(1));
    expect(lock.acquires).toBe(10);
    await service.close();
  });

  it('never hands over a lock whose fencing token was read: each reader gets a new, higher token', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true } });
    const tokens = await burst(service, 10, async (h) => {
      const token = h.fencingToken;
      await sleep(1);
      return token;
    });
    expect(lock.acquires).toBe(10);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    await service.close();
  });

  it('a read by any holder of a lease ends its hand-overs', async () => {
    const lock = new CountingLock();
    // maxHandOverMs out of the way (its 100 ms default could pass on a loaded machine).
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOverMs: 10_000 } });
    const tokens: bigint[] = [];
    // Callers 0-2 never read the token; caller 3 reads it; callers 4-6 read it.
    await burst(service, 7, (h, i) => {
      if (i >= 3) tokens.push(h.fencingToken);
    });
    // 0..3 share one lease (3 hand-overs), then 4, 5 and 6 each acquire anew.
    expect(lock.acquires).toBe(4);
    expect(new Set(tokens).size).toBe(4);
    await service.close();
  });

  it('releases at the backend after maxHandOvers consecutive hand-overs', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOvers: 2, maxHandOverMs: 10_000 } });
    await burst(service, 10, () => undefined);
    expect(lock.acquires).toBe(4); // leases of 3, 3, 3 and 1 callers
    await service.close();
  });

  it('does not hand over a lease older than maxHandOverMs', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOverMs: 20 } });
    await burst(service, 4, () => sleep(30));
    expect(lock.acquires).toBe(4);
    await service.close();
  });

  it('does not hand over to a caller asking for another ttl or without autoRenew, and leaks nothing', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true } });
    const a = service.withLock('k', () => sleep(5), { ttl: 1_000 });
    const b = service.withLock('k', (h) => h.held, { ttl: 2_000 });
    const c = service.withLock('k', (h) => h.held, { ttl: 2_000, autoRenew: false });
    const d = service.withLock('k', (h) => h.held, { ttl: 2_000, autoRenew: false });
    expect(await Promise.all([a, b, c, d])).toEqual([undefined, true, true, true]);
    expect(lock.acquires).toBe(4);
    expect(await service.isLocked('k')).toBe(false);
    await service.close();
  });

  it('does not hand over a lease with less than half of it left (renewals failing)', async () => {
    const lock = new CountingLock();
    // TTLs with room to spare: under CI load a 60 ms sleep can take far longer than 60 ms.
    const service = new LockService(lock, { ttl: 1_000, coalesce: { handOver: true, maxHandOverMs: 10_000 } });
    lock.failRenewals = true;
    const first = service.withLock('k', () => sleep(600)); // ~400 of 1 000 ms left at its end
    const second = service.withLock('k', (h) => h.validUntil - performance.now());
    await first;
    expect(await second).toBeGreaterThan(600); // a fresh lease, not the old one's last ~400 ms
    expect(lock.acquires).toBe(2);
    await service.close();
  });

  it('a loss during a handed-over turn aborts that turn only; the next caller acquires anew', async () => {
    const lock = new CountingLock();
    const lost: Array<[LockLostError, LockHandle]> = [];
    // A 300 ms TTL: the first turn's lease still has more than half left when it is handed over,
    // even if a loaded machine pauses this process for a while (the hand-over needs that).
    const service = new LockService(lock, {
      ttl: 300,
      onLockLost: (e, h) => lost.push([e, h]),
      coalesce: { handOver: true, maxHandOverMs: 10_000 },
    });
    const first = service.withLock('k', () => 'first');
    let secondSignal: AbortSignal | undefined;
    const second = service
      .withLock('k', async (h) => {
        secondSignal = h.signal;
        lock.failRenewals = true; // the lease runs out during this turn
        await sleep(600);
        return h.held;
      })
      .catch((e: unknown) => e);
    const third = service.withLock('k', (h) => {
      lock.failRenewals = false;
      return h.held;
    });
    expect(await first).toBe('first');
    const error = await second;
    expect(error).toBeInstanceOf(LockLostError);
    expect(secondSignal?.aborted).toBe(true);
    expect(secondSignal?.reason).toBe(error);
    expect(lost).toHaveLength(1);
    expect(lost[0]![0]).toBe(error);
    expect(await third).toBe(true);
    expect(lock.acquires).toBe(2); // first+second shared one lease; third got its own
    await service.close();
  });

  it('handle.release() inside fn gives the lock back; the next caller acquires anew', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true } });
    const released: string[] = [];
    service.events.on('released', (e) => released.push(e.key));
    let handle: LockHandle | undefined;
    const first = service.withLock('k', async (h) => {
      handle = h;
      await h.release();
      expect(h.held).toBe(false);
      expect(h.signal.aborted).toBe(true);
      expect(await service.isLocked('k')).toBe(false);
      await expect(h.release()).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(h.extend()).rejects.toBeInstanceOf(LockNotHeldError);
    });
    const second = service.withLock('k', (h) => h.held);
    await first;
    expect(await second).toBe(true);
    expect(handle?.held).toBe(false);
    expect(lock.acquires).toBe(2);
    expect(released).toEqual(['k', 'k']);
    await service.close();
  });

  it("a handed-over turn's signal aborts when its turn ends, not the next one's", async () => {
    const service = new LockService(new CountingLock(), { coalesce: { handOver: true } });
    const signals: AbortSignal[] = [];
    await burst(service, 3, (h) => {
      signals.push(h.signal);
      expect(h.signal.aborted).toBe(false);
      for (const earlier of signals.slice(0, -1)) expect(earlier.aborted).toBe(true);
    });
    expect(signals.every((s) => s.aborted)).toBe(true);
    await service.close();
  });

  it('a tryWithLock holder hands over to a queued withLock caller', async () => {
    const lock = new CountingLock();
    // maxHandOverMs out of the way (its 100 ms default could pass on a loaded machine).
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOverMs: 10_000 } });
    let queued: Promise<boolean> | undefined;
    const tried = await service.tryWithLock('k', async () => {
      queued = service.withLock('k', (h) => h.held);
      await sleep(1);
      return 'tried';
    });
    expect(tried).toEqual({ acquired: true, value: 'tried' });
    expect(await queued).toBe(true);
    expect(lock.acquires).toBe(1);
    await service.close();
  });

  it('a waiter that gives up while queued leaves no lease stranded', async () => {
    const lock = new CountingLock();
    // maxHandOverMs out of the way (its 100 ms default could pass on a loaded machine).
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOverMs: 10_000 } });
    const abort = new AbortController();
    const first = service.withLock('k', () => sleep(20));
    const quitter = service.withLock('k', () => 'never', { signal: abort.signal }).catch((e: unknown) => e);
    const last = service.withLock('k', (h) => h.held);
    await sleep(5);
    abort.abort(new Error('gave up'));
    await first;
    expect(await quitter).toMatchObject({ message: 'gave up' });
    expect(await last).toBe(true);
    expect(lock.acquires).toBe(1);
    expect(await service.isLocked('k')).toBe(false);
    await service.close();
  });

  it('other instances on the same store get the key between runs of hand-overs', async () => {
    const store = new MemoryLockStore();
    const local = new LockService(new MemoryLock({ store }), { coalesce: { handOver: true, maxHandOvers: 3 } });
    const other = new LockService(new MemoryLock({ store }));
    const order: string[] = [];
    const mine = burst(local, 30, async (_h, i) => {
      order.push(`local${i}`);
      await sleep(1);
    });
    await sleep(2);
    await other.withLock('k', () => order.push('other'));
    await mine;
    expect(order.indexOf('other')).toBeLessThan(29);
    await Promise.all([local.close(), other.close()]);
  });

  it('after a run ends at its bound, the next local caller pauses before acquiring (other processes first)', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: { handOver: true, maxHandOvers: 0 } });
    const turns: Array<[start: number, end: number]> = [];
    await burst(service, 4, async () => {
      const start = performance.now();
      await sleep(1);
      turns.push([start, performance.now()]);
    });
    expect(lock.acquires).toBe(4);
    // A memory release + acquire takes microseconds; the pause is at least 1 ms.
    for (let i = 1; i < turns.length; i++) expect(turns[i]![0] - turns[i - 1]![1]).toBeGreaterThanOrEqual(0.9);
    await service.close();
  });

  it('rejects bad coalesce options', () => {
    const lock = new CountingLock();
    expect(() => new LockService(lock, { coalesce: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
    expect(() => new LockService(lock, { coalesce: { handOver: 1 as unknown as boolean } })).toThrow(InvalidOptionError);
    expect(() => new LockService(lock, { coalesce: { maxHandOvers: -1 } })).toThrow(InvalidOptionError);
    expect(() => new LockService(lock, { coalesce: { maxHandOvers: 1.5 } })).toThrow(InvalidOptionError);
    expect(() => new LockService(lock, { coalesce: { maxHandOverMs: Number.NaN } })).toThrow(InvalidOptionError);
    expect(() => new LockService(lock, { coalesce: { maxHandOverMs: -1 } })).toThrow(InvalidOptionError);
    expect(() => new LockService(lock, { coalesce: { handOver: true, maxHandOvers: 0, maxHandOverMs: 0 } })).not.toThrow();
  });
});
