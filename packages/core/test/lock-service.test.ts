import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  LockLostError,
  LockService,
  MemoryLock,
  MemoryLockStore,
  renewOnTimer,
  type DistributedLock,
  type LockEvent,
  type LockHandle,
} from '../src/index.js';
import { CountingLock } from './counting-lock.js';

const fresh = () => new MemoryLock({ store: new MemoryLockStore() });

describe('LockService.withLock', () => {
  it('passes the value through and releases', async () => {
    const service = new LockService(fresh());
    const value = await service.withLock('k', async (h) => {
      expect(await service.isLocked('k')).toBe(true);
      expect((await service.getLockInfo('k'))?.fencingToken).toBe(h.fencingToken);
      return 42;
    });
    expect(value).toBe(42);
    expect(await service.isLocked('k')).toBe(false);
    await service.close();
  });

  it('passes the error through and still releases', async () => {
    const service = new LockService(fresh());
    const boom = new Error('boom');
    await expect(
      service.withLock('k', () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await service.isLocked('k')).toBe(false);
    await service.close();
  });

  it('rejects with LockLostError and calls onLockLost when the lock is lost during fn', async () => {
    const lost: Array<[LockLostError, LockHandle]> = [];
    const service = new LockService(fresh(), { onLockLost: (e, h) => lost.push([e, h]), autoRenew: false });
    let sawAbort = false;
    const error = await service
      .withLock(
        'k',
        async (h) => {
          await sleep(120);
          sawAbort = h.signal.aborted;
          return 'too late';
        },
        { ttl: 40 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect(sawAbort).toBe(true);
    expect(lost).toHaveLength(1);
    expect(lost[0]![0]).toBe(error);
    await service.close();
  });

  it('a throwing onLockLost hook does not become an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const service = new LockService(fresh(), {
        autoRenew: false,
        onLockLost: () => {
          throw new Error('hook bug');
        },
      });
      await expect(service.withLock('k', () => sleep(80), { ttl: 20 })).rejects.toBeInstanceOf(LockLostError);
      await sleep(20);
      expect(unhandled).toEqual([]);
      await service.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('uses the service TTL and renews through a long function', async () => {
    const lock = new CountingLock();
    // Renewed every 200 ms: a late timer on a loaded machine still renews well within the TTL.
    const service = new LockService(lock, { ttl: 600 });
    await service.withLock('k', async (h) => {
      await sleep(1_000);
      expect(h.held).toBe(true);
    });
    expect(lock.renewBatches.length).toBeGreaterThanOrEqual(3);
    await service.close();
  });

  it('rejects bad input before touching the backend', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock);
    await expect(service.withLock('', () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(service.withLock('k', 'nope' as unknown as () => number)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(service.withLock('k', () => 1, { ttl: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
    expect(lock.acquires).toBe(0);
    expect(() => new LockService(lock, { ttl: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new LockService({} as DistributedLock)).toThrow(InvalidOptionError);
    await service.close();
  });

  it('defaults to the embedded memory backend', async () => {
    const service = new LockService();
    expect(service.lock.backend).toBe('memory');
    expect(await service.withLock(`svc-default-${Math.random()}`, () => 'ok')).toBe('ok');
    await service.close();
  });
});

describe('LockService.tryWithLock', () => {
  it('runs fn when free and reports { acquired: false } without running it when held', async () => {
    const service = new LockService(fresh());
    let runs = 0;
    const inner = await service.withLock('k', async () => {
      return service.tryWithLock('k', () => {
        runs++;
      });
    });
    expect(inner).toEqual({ acquired: false });
    expect(runs).toBe(0);
    expect(await service.tryWithLock('k', () => 'v')).toEqual({ acquired: true, value: 'v' });
    await service.close();
  });
});

describe('LockService coalesce', () => {
  it('lets only one same-key waiter per process talk to the backend', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: true });
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 50 }, () =>
        service.withLock('k', async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await sleep(1);
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    // One backend attempt per critical section: waiters queued locally, not at the backend.
    expect(lock.acquires).toBe(50);
    await service.close();
  });

  it('tryWithLock under coalescing fails fast while a local caller holds the key', async () => {
    const lock = new CountingLock();
    const service = new LockService(lock, { coalesce: true });
    const result = await service.withLock('k', () => service.tryWithLock('k', () => 'never'));
    expect(result).toEqual({ acquired: false });
    expect(lock.acquires).toBe(1);
    await service.close();
  });

  it('counts local queueing against waitTimeout', async () => {
    const service = new LockService(fresh(), { coalesce: true });
    // The holder keeps the key for 1.5 s: a waiter whose local queueing did not count would
    // wait that long; one that counts it gives up after its 100 ms (plus room for a busy machine).
    const holding = service.withLock('k', () => sleep(1_500));
    await sleep(10);
    const started = performance.now();
    await expect(service.withLock('k', () => 1, { waitTimeout: 100 })).rejects.toThrow(/within 100 ms/);
    expect(performance.now() - started).toBeLessThan(1_000);
    await holding;
    await service.close();
  });
});

describe('LockService.autoRenew', () => {
  it('renews a foreign DistributedLock handle on its own timer until stopped', async () => {
    const inner = fresh();
    let renewals = 0;
    // A lock written outside dlock: renewOnTimer gives it one timer per handle.
    const foreign: DistributedLock = {
      autoRenew: (h, o) => renewOnTimer(foreign, h, o),
      backend: 'foreign',
      capabilities: inner.capabilities,
      tryLock: (k, o) => inner.tryLock(k, o),
      lock: (k, o) => inner.lock(k, o),
      unlock: (h) => inner.unlock(h),
      renew: (h, t) => {
        renewals++;
        return inner.renew(h, t);
      },
      isLocked: (k) => inner.isLocked(k),
      inspect: (k) => inner.inspect(k),
      close: () => inner.close(),
    };
    const service = new LockService(foreign);
    // Renewed every 200 ms: a late timer on a loaded machine still renews well within the TTL.
    const h = await foreign.lock('k', { ttl: 600 });
    const stop = service.autoRenew(h);
    await sleep(1_000);
    expect(h.held).toBe(true);
    expect(renewals).toBeGreaterThanOrEqual(2);
    stop();
    const seen = renewals;
    await sleep(500); // 2.5 intervals
    expect(renewals).toBe(seen);
    await service.close();
  });
});

describe('LockService events', () => {
  it('reports waits, acquisitions, renewals and releases with durations', async () => {
    const events: LockEvent[] = [];
    // Renewed every 100 ms while held for 400 ms: a late timer on a loaded machine still renews
    // well within the TTL.
    const service = new LockService(fresh(), { ttl: 300, onEvent: (e) => events.push(e) });
    const holding = service.withLock('k', () => sleep(400));
    await sleep(5);
    await service.withLock('k', () => 'second');
    await holding;
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'wait-started')).toHaveLength(2);
    expect(types.filter((t) => t === 'acquired')).toHaveLength(2);
    expect(types.filter((t) => t === 'released')).toHaveLength(2);
    expect(types.filter((t) => t === 'renewed').length).toBeGreaterThanOrEqual(2);
    const secondWait = events.filter((e) => e.type === 'wait-ended')[1];
    expect(secondWait).toMatchObject({ outcome: 'acquired', key: 'k', backend: 'memory' });
    expect((secondWait as { waitedMs: number }).waitedMs).toBeGreaterThan(350);
    const firstRelease = events.find((e) => e.type === 'released') as { heldMs: number };
    expect(firstRelease.heldMs).toBeGreaterThanOrEqual(390);
    await service.close();
  });

  it('reports busy, timeout and aborted waits, and losses', async () => {
    const service = new LockService(fresh(), { autoRenew: false });
    const outcomes: string[] = [];
    const lost: LockEvent[] = [];
    service.events.on('wait-ended', (e) => outcomes.push(e.outcome));
    service.events.on('lost', (e) => lost.push(e));
    service.events.on('*', () => {
      throw new Error('a broken listener changes nothing');
    });
    // Held for 1 s: long enough that the busy, timeout and aborted waits below all see it held,
    // however slowly a loaded machine runs them.
    const holding = service.withLock('k', () => sleep(1_000));
    await sleep(5);
    await service.tryWithLock('k', () => 1);
    await service.withLock('k', () => 1, { waitTimeout: 10 }).catch(() => {});
    await service.withLock('k', () => 1, { signal: AbortSignal.timeout(10) }).catch(() => {});
    await holding;
    await service.withLock('short', () => sleep(60), { ttl: 20 }).catch(() => {});
    expect(outcomes).toEqual(['acquired', 'busy', 'timeout', 'aborted', 'acquired']);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ type: 'lost', key: 'short' });
    await service.close();
  });

  it('reports a failing renewal as renew-failed', async () => {
    const lock = new CountingLock();
    const failures: Error[] = [];
    const service = new LockService(lock, { ttl: 300 });
    service.events.on('renew-failed', (e) => failures.push(e.error));
    lock.failRenewals = true;
    await service.withLock('k', () => sleep(200)).catch(() => {});
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures[0]!.message).toContain('simulated backend outage');
    await service.close();
  });
});
