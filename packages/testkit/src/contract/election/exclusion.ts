// One leader at a time: concurrency across instances, waiting, prompt hand-over on resign.
import type { Election } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { uniqueKey } from '../../util.js';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the election contract's exclusion tests. */
export function electionExclusionTests(ctx: PrimitiveContext<Election>): void {
  describe('one leader at a time', () => {
    const { open, setup } = ctx;

    it('at most one leader at a time while many instances campaign, and every candidate leads in turn', async () => {
      const { a, c } = await setup();
      const instances = [a, ...(await Promise.all([open(), open(), open()]))];
      const name = uniqueKey();
      let leaders = 0;
      let most = 0;
      const terms: bigint[] = [];
      await Promise.all(
        instances.flatMap((election, i) =>
          [0, 1].map(async (round) => {
            const leadership = await election.campaign(name, `candidate-${i}-${round}`, { ttl: c.longTtl });
            leaders += 1;
            most = Math.max(most, leaders);
            terms.push(leadership.term);
            expect(await election.leader(name)).toEqual({ value: `candidate-${i}-${round}`, term: leadership.term });
            await sleep(20);
            leaders -= 1;
            await leadership.resign();
          }),
        ),
      );
      expect(most).toBe(1);
      expect(terms).toHaveLength(instances.length * 2);
      // Terms strictly increase in the order the leaders were elected.
      terms.forEach((term, i) => {
        if (i > 0) expect(term).toBeGreaterThan(terms[i - 1]!);
      });
      expect(await a.leader(name)).toBeNull();
    });

    it('a candidate waits while another leads, and is elected promptly when the leader resigns', async () => {
      const { a, b, c, key } = await setup();
      const first = await a.campaign(key, 'a', { ttl: c.longTtl });
      const second = b.campaign(key, 'b', { ttl: c.longTtl });
      expect(await pendingAfter(second, 300)).toBe(true);
      expect(await b.leader(key)).toEqual({ value: 'a', term: first.term });
      const resignedAt = performance.now();
      await first.resign();
      const next = await second;
      expect(performance.now() - resignedAt).toBeLessThan(c.wakeupBudgetMs);
      expect(next.term).toBeGreaterThan(first.term);
      expect(first.held).toBe(false);
      expect(await a.leader(key)).toEqual({ value: 'b', term: next.term });
      await next.resign();
    });

    it('campaigns of one instance for one name take turns, and different names are independent', async () => {
      const { a, c, key } = await setup();
      const first = await a.campaign(key, 'one', { ttl: c.longTtl });
      const second = a.campaign(key, 'two', { ttl: c.longTtl });
      const other = await a.campaign(`${key}:other`, 'other', { ttl: c.longTtl });
      expect(await pendingAfter(second, 200)).toBe(true);
      await first.resign();
      const next = await second;
      expect(next.value).toBe('two');
      expect(await a.leader(key)).toEqual({ value: 'two', term: next.term });
      await Promise.all([next.resign(), other.resign()]);
    });
  });
}
