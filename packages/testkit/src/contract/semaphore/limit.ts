// The limit: at most `limit` permits held at any instant across instances, counted by size.
import type { DistributedSemaphore } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the semaphore contract's limit tests. */
export function semaphoreLimitTests(ctx: PrimitiveContext<DistributedSemaphore>): void {
  describe('limit', () => {
    const { setup } = ctx;

    it('never more than limit permits at once under concurrency of two instances, and the limit is reached', async () => {
      const { a, b, c, key } = await setup();
      const limit = 3;
      let used = 0;
      let maxUsed = 0;
      let acquisitions = 0;
      const worker = async (sem: DistributedSemaphore, i: number) => {
        for (let round = 0; round < 3; round++) {
          const permits = (i + round) % 5 === 0 ? 2 : 1;
          const h = await sem.acquire(key, { limit, permits, ttl: c.longTtl });
          used += permits;
          maxUsed = Math.max(maxUsed, used);
          acquisitions++;
          await sleep(3 + (i % 4) * 2);
          used -= permits;
          await h.release();
        }
      };
      await Promise.all(Array.from({ length: 10 }, (_, i) => worker(i % 2 === 0 ? a : b, i)));
      expect(acquisitions).toBe(30);
      expect(maxUsed).toBeLessThanOrEqual(limit);
      expect(maxUsed).toBe(limit);
      expect(await a.inspect(key)).toBeNull();
    });

    it('permits count by size: with 2 of 3 taken, one more fits and two do not', async () => {
      const { a, b, c, key } = await setup();
      const two = await a.acquire(key, { limit: 3, permits: 2, ttl: c.longTtl });
      expect(await b.tryAcquire(key, { limit: 3, permits: 2, ttl: c.longTtl })).toBeNull();
      const one = (await b.tryAcquire(key, { limit: 3, ttl: c.longTtl }))!;
      expect(one).not.toBeNull();
      expect(await a.tryAcquire(key, { limit: 3, ttl: c.longTtl })).toBeNull();
      expect(await a.inspect(key)).toMatchObject({ key, used: 3, holders: 2, limit: 3, waiting: 0 });
      await two.release();
      expect(await b.inspect(key)).toMatchObject({ used: 1, holders: 1 });
      await one.release();
      expect(await b.inspect(key)).toBeNull();
    });

    it('limit 1 is a mutex', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.acquire(key, { limit: 1, ttl: c.longTtl });
      expect(await b.tryAcquire(key, { limit: 1, ttl: c.longTtl })).toBeNull();
      const next = b.acquire(key, { limit: 1, ttl: c.longTtl });
      await sleep(50);
      await h.release();
      const n = await next;
      expect(n.held).toBe(true);
      await n.release();
    });
  });
}
