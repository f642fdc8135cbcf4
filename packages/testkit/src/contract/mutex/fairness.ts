// Fairness across instances (like processes): waiters of every instance are served in the order
// they came, so no instance starves while another keeps the lock. Registered for backends that
// promise it (`fair`).
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's cross-instance fairness tests. */
export function fairnessTests(ctx: ContractContext): void {
  if (!ctx.fair) return;
  describe('fairness across instances', () => {
    const { setup } = ctx;

    it(ctx.turns ? 'waiters of two instances are served by instance turns, in arrival order' : 'waiters of two instances are served in arrival order', async () => {
      const { a, b, c, key } = await setup();
      const holder = await a.lock(key, { ttl: c.longTtl });
      const order: number[] = [];
      // Arrivals alternate between the instances, 150 ms apart: far more than an attempt takes,
      // also on a loaded machine (an etcd put is fsynced).
      const waiters = [0, 1, 2, 3, 4, 5].map(async (i) => {
        await sleep(i * 150);
        const lock = i % 2 === 0 ? b : a;
        const w = await lock.lock(key, { ttl: c.longTtl, waitTimeout: 20_000 });
        order.push(i);
        await sleep(2); // a critical section that awaits
        await w.release();
      });
      await sleep(6 * 150 + 150);
      await holder.release();
      await Promise.all(waiters);
      // By turns: b's first waiter came first, so b's turn serves every waiter b had queued by
      // then (0, 2, 4), then a's (1, 3, 5).
      expect(order).toEqual(ctx.turns ? [0, 2, 4, 1, 3, 5] : [0, 1, 2, 3, 4, 5]);
    });

    it('with a critical section that awaits, each of two busy instances gets a fair share', async () => {
      const { a, b, c, key } = await setup();
      const perInstance = 4;
      const total = 48;
      const counts = [0, 0];
      let granted = 0;
      let inside = 0;
      let overlaps = 0;
      const deadline = performance.now() + 15_000; // bounded in time as well as in count
      const worker = async (instance: 0 | 1) => {
        const lock = instance === 0 ? a : b;
        while (granted < total && performance.now() < deadline) {
          const h = await lock.lock(key, { ttl: c.longTtl, waitTimeout: 10_000 });
          if (granted >= total) {
            await h.release();
            break;
          }
          granted++;
          counts[instance]!++;
          if (++inside > 1) overlaps++;
          await sleep(3);
          inside--;
          await h.release();
        }
      };
      await Promise.all([0, 1].flatMap((i) => Array.from({ length: perInstance }, () => worker(i as 0 | 1))));
      expect(overlaps).toBe(0);
      expect(counts[0]! + counts[1]!).toBe(total);
      // In arrival order both instances' waiters alternate; without fairness the releasing
      // instance's own waiters win the race for the key, run after run.
      expect(Math.min(counts[0]!, counts[1]!)).toBeGreaterThanOrEqual(total * 0.35);
    });
  });
}
