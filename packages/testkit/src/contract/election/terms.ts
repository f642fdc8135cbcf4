// Terms and values: leader(), strictly increasing terms, proclaim.
import { LockNotHeldError, type Election } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the election contract's term and value tests. */
export function electionTermTests(ctx: PrimitiveContext<Election>): void {
  describe('terms and values', () => {
    const { setup } = ctx;

    it('leader() is null without a leader, and shows the value and term of the leader', async () => {
      const { a, b, c, key } = await setup();
      expect(await b.leader(key)).toBeNull();
      const leadership = await a.campaign(key, 'pod-a 10.0.0.1:8080 ✓', { ttl: c.longTtl });
      expect(leadership.name).toBe(key);
      expect(leadership.key).toBe(key);
      expect(leadership.value).toBe('pod-a 10.0.0.1:8080 ✓');
      expect(leadership.fencingToken).toBe(leadership.term);
      expect(leadership.term).toBeGreaterThan(0n);
      expect(await b.leader(key)).toEqual({ value: 'pod-a 10.0.0.1:8080 ✓', term: leadership.term });
      await leadership.resign();
      expect(await b.leader(key)).toBeNull();
    });

    it('terms strictly increase across leaders, the same instance campaigning again included', async () => {
      const { a, b, c, key } = await setup();
      const terms: bigint[] = [];
      for (const election of [a, b, a, a, b]) {
        const leadership = await election.campaign(key, 'x', { ttl: c.longTtl });
        terms.push(leadership.term);
        await leadership.resign();
      }
      for (let i = 1; i < terms.length; i++) expect(terms[i]).toBeGreaterThan(terms[i - 1]!);
    });

    it('proclaim changes the value but not the term; an empty value is a value', async () => {
      const { a, b, c, key } = await setup();
      const leadership = await a.campaign(key, 'first', { ttl: c.longTtl });
      await leadership.proclaim('second');
      expect(leadership.value).toBe('second');
      expect(await b.leader(key)).toEqual({ value: 'second', term: leadership.term });
      await leadership.proclaim('');
      expect(await b.leader(key)).toEqual({ value: '', term: leadership.term });
      await leadership.resign();
      await expect(leadership.proclaim('third')).rejects.toBeInstanceOf(LockNotHeldError);
      expect(await b.leader(key)).toBeNull();
    });
  });
}
