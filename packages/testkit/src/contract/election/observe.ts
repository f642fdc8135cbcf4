// observe(): the current leader first, then every change (new leader, new value, none).
import type { Election } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';
import { record } from './recorder.js';

/** Registers the election contract's observe tests. */
export function electionObserveTests(ctx: PrimitiveContext<Election>): void {
  describe('observe', () => {
    const { open, setup } = ctx;

    it('sees every change: leader, proclaimed value, resign, the next leader, its expiry', async () => {
      const { a, b, c, key } = await setup();
      const observer = record(await open(), key);
      const budget = c.wakeupBudgetMs + 2_000;
      await observer.until(1, budget);
      const first = await a.campaign(key, 'v1', { ttl: c.longTtl });
      await observer.until(2, budget);
      await first.proclaim('v2');
      await observer.until(3, budget);
      await first.resign();
      await observer.until(4, budget);
      const second = await b.campaign(key, 'v3', { ttl: c.shortTtl, autoRenew: false });
      await observer.until(5, budget);
      // No renewal: the lease runs out and nobody leads.
      await observer.until(6, c.shortTtl + budget);
      await observer.stop();
      expect(observer.seen).toEqual([null, `v1@${first.term}`, `v2@${first.term}`, null, `v3@${second.term}`, null]);
    });

    it('starts with the current leader; a leader replaced while a candidate waits shows as the old then the new', async () => {
      const { a, b, c, key } = await setup();
      const first = await a.campaign(key, 'old', { ttl: c.longTtl });
      const observer = record(b, key);
      await observer.until(1, c.wakeupBudgetMs + 2_000);
      const waiting = b.campaign(key, 'new', { ttl: c.longTtl });
      await first.resign();
      const second = await waiting;
      await observer.until(2, c.wakeupBudgetMs + 2_000);
      await waitUntilSeen(observer.seen, `new@${second.term}`, c.wakeupBudgetMs + 2_000);
      await observer.stop();
      // Between the two a moment without a leader may show (the backend deleted, then elected).
      expect(observer.seen.filter((s) => s !== null)).toEqual([`old@${first.term}`, `new@${second.term}`]);
      expect(observer.seen[0]).toBe(`old@${first.term}`);
      await second.resign();
    });

    it('ends when its signal aborts, on break, and when the election is closed', async () => {
      const { a, c, key } = await setup();
      const closing = await open();
      const byClose = record(closing, key);
      const bySignal = record(a, key);
      await Promise.all([byClose.until(1, c.wakeupBudgetMs + 2_000), bySignal.until(1, c.wakeupBudgetMs + 2_000)]);
      await closing.close();
      await byClose.ended;
      await bySignal.stop();
      for await (const leader of a.observe(key)) {
        expect(leader).toBeNull();
        break;
      }
    });
  });
}

async function waitUntilSeen(seen: Array<string | null>, state: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!seen.includes(state)) {
    if (performance.now() > deadline) throw new Error(`the observer saw ${JSON.stringify(seen)}, not ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
