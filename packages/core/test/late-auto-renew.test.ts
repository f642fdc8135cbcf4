import { describe, expect, it } from 'vitest';
import { Handle, LockLostError, MemoryLock, MemoryLockStore, renewOnTimer, Watchdog, type DistributedLock, type LockHandle } from '../src/index.js';
import type { HandleOwner } from '../src/handle.js';
import type { RenewOutcome } from '../src/engine/watchdog.js';

// autoRenew() called late, when less than ttl/3 is left of the lease: the first renewal must come
// before the lease ends, not ttl/3 after the call. Real timers; the margins allow a loaded
// 2-core machine to fire a timer a few hundred ms late.

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sleeps until `handle` has about `left` ms of its lease left. */
async function untilLeft(handle: LockHandle, left: number): Promise<number> {
  await sleep(Math.max(0, handle.validUntil - performance.now() - left));
  return handle.validUntil - performance.now();
}

describe('autoRenew started late in the lease', () => {
  it('MemoryLock: a 3 s lock whose autoRenew starts with ~600 ms left is renewed before it expires', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    try {
      const h = await lock.lock('late', { ttl: 3_000 });
      const firstEnd = h.validUntil;
      const left = await untilLeft(h, 600);
      expect(left).toBeGreaterThan(0); // the test's own sleep was not so late that the lease ran out
      const renewedAt: number[] = [];
      const started = performance.now();
      const stop = lock.autoRenew(h, { renewed: () => renewedAt.push(performance.now()) });
      // Past the first lease's end, with room: before the change the renewal came ~1 000 ms after
      // the call, ~400 ms after the lease had ended.
      await sleep(Math.max(0, firstEnd - performance.now()) + 500);
      expect(h.signal.reason).not.toBeInstanceOf(LockLostError);
      expect(h.held).toBe(true);
      expect(renewedAt.length).toBeGreaterThanOrEqual(1);
      expect(renewedAt[0]!).toBeLessThan(firstEnd);
      expect(renewedAt[0]! - started).toBeLessThan(left);
      // Renewed to a full lease again: the next renewal is ttl/3 (1 000 ms) after the first, not
      // a third of the short remainder (~200 ms) each time.
      expect(h.validUntil - performance.now()).toBeGreaterThan(1_500);
      stop();
      await h.release();
    } finally {
      await lock.close();
    }
  });

  it('MemoryLock: autoRenew right after the acquire still waits ~ttl/3 for the first renewal', async () => {
    const lock = new MemoryLock({ store: new MemoryLockStore() });
    try {
      const h = await lock.lock('fresh', { ttl: 1_500 });
      const renewedAt: number[] = [];
      const started = performance.now();
      const stop = lock.autoRenew(h, { renewed: () => renewedAt.push(performance.now()) });
      await sleep(1_200);
      expect(h.held).toBe(true);
      expect(renewedAt.length).toBeGreaterThanOrEqual(1);
      // ttl/3 = 500 ms; timers never fire early, and a lone handle gets no early-window tick.
      expect(renewedAt[0]! - started).toBeGreaterThanOrEqual(450);
      stop();
      await h.release();
    } finally {
      await lock.close();
    }
  });

  it('Watchdog: a late handle due soon shares the tick of a handle due a little after it', async () => {
    const batches: string[][] = [];
    const watchdog = new Watchdog<undefined>(async (handles) => {
      batches.push(handles.map((h) => h.key));
      return handles.map((): RenewOutcome => 'renewed');
    });
    const owner: HandleOwner = { unlock: async () => {}, renew: async () => {} };
    const now = performance.now();
    // fresh: 3 s ttl and lease, first renewal 1 000 ms from now.
    const fresh = new Handle<undefined>(owner, 'fresh', 't1', 1n, 3_000, now + 3_000, undefined);
    // late: 3 s ttl, 2 400 ms left: due at 800 ms (a third of what is left), within half an
    // interval (500 ms) of the fresh one, so both go in the one batch of that tick.
    const late = new Handle<undefined>(owner, 'late', 't2', 2n, 3_000, now + 2_400, undefined);
    try {
      watchdog.add(fresh);
      watchdog.add(late);
      await sleep(1_300);
      expect(batches.length).toBeGreaterThanOrEqual(1);
      expect([...batches[0]!].sort()).toEqual(['fresh', 'late']);
    } finally {
      watchdog.stop();
    }
  });
});

describe('renewOnTimer started late in the lease', () => {
  it('renews a foreign lock before its lease ends, then every ttl/3 of the renewed lease', async () => {
    const inner = new MemoryLock({ store: new MemoryLockStore() });
    const renewedAt: number[] = [];
    const foreign: Pick<DistributedLock, 'renew'> = {
      renew: async (h, ttl) => {
        await inner.renew(h, ttl);
        renewedAt.push(performance.now());
      },
    };
    try {
      const h = await inner.lock('foreign', { ttl: 3_000 });
      const firstEnd = h.validUntil;
      const left = await untilLeft(h, 600);
      expect(left).toBeGreaterThan(0);
      const stop = renewOnTimer(foreign, h);
      await sleep(Math.max(0, firstEnd - performance.now()) + 1_000);
      stop();
      expect(h.held).toBe(true);
      expect(renewedAt.length).toBeGreaterThanOrEqual(1);
      expect(renewedAt[0]!).toBeLessThan(firstEnd);
      // ~1 600 ms after the call: the first renewal at ~200 ms, the next at ~1 200 ms. Kept at a
      // third of the short remainder, it would have renewed every ~200 ms (7 or 8 times).
      expect(renewedAt.length).toBeLessThanOrEqual(3);
      await h.release();
    } finally {
      await inner.close();
    }
  });
});
