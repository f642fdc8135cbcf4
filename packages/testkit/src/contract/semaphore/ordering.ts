// FIFO: a large request is not overtaken by later small ones; one release admits every waiter
// that fits; a waiter that gives up lets the ones behind it in.
import { LockAcquireTimeoutError, type DistributedSemaphore, type LockHandle } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the semaphore contract's ordering tests. */
export function semaphoreOrderingTests(ctx: PrimitiveContext<DistributedSemaphore>): void {
  describe('FIFO', () => {
    const { setup } = ctx;

    it('a large request is not overtaken by later small ones of any instance', async () => {
      const { a, b, c, key } = await setup();
      const held = await a.acquire(key, { limit: 3, permits: 2, ttl: c.longTtl });
      const order: string[] = [];
      const big = b.acquire(key, { limit: 3, permits: 3, ttl: c.longTtl }).then(async (h) => {
        order.push('big');
        await sleep(30);
        order.push('big done');
        await h.release();
      });
      await sleep(50);
      // One permit is free, but the waiting request for three comes first.
      expect(await a.tryAcquire(key, { limit: 3, ttl: c.longTtl })).toBeNull();
      expect(await b.tryAcquire(key, { limit: 3, ttl: c.longTtl })).toBeNull();
      const small = a.acquire(key, { limit: 3, ttl: c.longTtl }).then(async (h) => {
        order.push('small');
        await h.release();
      });
      expect(await pendingAfter(small, 100)).toBe(true);
      await held.release();
      await Promise.all([big, small]);
      expect(order).toEqual(['big', 'big done', 'small']);
    });

    it('one release admits every waiter that fits, at once', async () => {
      const { a, b, c, key } = await setup();
      const all = await a.acquire(key, { limit: 4, permits: 4, ttl: c.longTtl });
      const got: LockHandle[] = [];
      const waiters = [a, b, a, b].map((sem) => sem.acquire(key, { limit: 4, ttl: c.longTtl }).then((h) => got.push(h)));
      await sleep(100);
      expect(got).toHaveLength(0);
      expect(await b.inspect(key)).toMatchObject({ used: 4, waiting: 4 });
      const releasedAt = performance.now();
      await all.release();
      await Promise.all(waiters);
      expect(performance.now() - releasedAt).toBeLessThan(c.wakeupBudgetMs);
      expect(got.every((h) => h.held)).toBe(true);
      expect(await a.inspect(key)).toMatchObject({ used: 4, holders: 4, waiting: 0 });
      await Promise.all(got.map((h) => h.release()));
    });

    it('a large waiter that gives up lets the smaller requests behind it in', async () => {
      const { a, b, c, key } = await setup();
      const held = await a.acquire(key, { limit: 3, permits: 2, ttl: c.longTtl });
      const big = b.acquire(key, { limit: 3, permits: 3, ttl: c.longTtl, waitTimeout: 300 }).catch((e: unknown) => e);
      await sleep(50);
      const small = a.acquire(key, { limit: 3, ttl: c.longTtl });
      expect(await pendingAfter(small, 50)).toBe(true);
      expect(await big).toBeInstanceOf(LockAcquireTimeoutError);
      const gaveUpAt = performance.now();
      const s = await small;
      expect(performance.now() - gaveUpAt).toBeLessThan(c.wakeupBudgetMs);
      expect(held.held).toBe(true);
      expect(await b.inspect(key)).toMatchObject({ used: 3, holders: 2, waiting: 0 });
      await s.release();
      await held.release();
    });
  });
}
