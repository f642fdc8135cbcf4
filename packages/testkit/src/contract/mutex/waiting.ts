// Waiting: a release wakes a waiter long before the TTL; FIFO order where the backend promises
// it, else every waiter served once.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's waiting and wake-up tests. */
export function waitingTests(ctx: ContractContext): void {
  describe('waiting and wake-up', () => {
    const { setup } = ctx;

    it('lock() waits and is woken by a release long before the TTL', async () => {
      const { a, b, c, key } = await setup();
      const holder = await a.lock(key, { ttl: c.longTtl });
      const waiting = b.lock(key, { ttl: c.longTtl });
      await sleep(150);
      const releasedAt = performance.now();
      await holder.release();
      const next = await waiting;
      const wake = performance.now() - releasedAt;
      expect(next.held).toBe(true);
      expect(wake).toBeLessThan(c.wakeupBudgetMs);
      await next.release();
    });

    if (ctx.fifo) {
      it('waiters of one instance are served in arrival order', async () => {
        const { a, c, key } = await setup();
        const h = await a.lock(key, { ttl: c.longTtl });
        const order: number[] = [];
        const waiters = [0, 1, 2, 3].map(async (i) => {
          await sleep(i * 30);
          const w = await a.lock(key, { ttl: c.longTtl });
          order.push(i);
          await w.release();
        });
        await sleep(200);
        await h.release();
        await Promise.all(waiters);
        expect(order).toEqual([0, 1, 2, 3]);
      });
    } else {
      it('waiters of one instance each acquire exactly once, one at a time, soon after the release (no order promised)', async () => {
        const { a, c, key } = await setup();
        const h = await a.lock(key, { ttl: c.longTtl });
        const acquired: number[] = [];
        let inside = 0;
        let maxInside = 0;
        const waiters = [0, 1, 2, 3].map(async (i) => {
          await sleep(i * 30);
          const w = await a.lock(key, { ttl: c.longTtl });
          inside++;
          maxInside = Math.max(maxInside, inside);
          acquired.push(i);
          await sleep(5);
          inside--;
          await w.release();
        });
        await sleep(200);
        expect(acquired).toEqual([]);
        const releasedAt = performance.now();
        await h.release();
        await Promise.all(waiters);
        const took = performance.now() - releasedAt;
        expect([...acquired].sort((x, y) => x - y)).toEqual([0, 1, 2, 3]);
        expect(maxInside).toBe(1);
        // Four hand-offs, each a release that some waiter must notice (plus the releases' own I/O).
        expect(took).toBeLessThan(acquired.length * c.wakeupBudgetMs + 1_000);
      });
    }
  });
}
