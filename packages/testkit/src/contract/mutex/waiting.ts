// Waiting: a release wakes a waiter long before the TTL; FIFO order where the backend promises it.
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

    it('waiters of one instance are served in arrival order (when the backend is FIFO)', async () => {
      const { a, c, key } = await setup();
      if (!c.fifo) return expect(c.fifo).toBe(false);
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
  });
}
