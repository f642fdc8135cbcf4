// Fencing: every acquisition's token strictly increases per key, across permits and instances.
import type { DistributedSemaphore } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the semaphore contract's fencing test. */
export function semaphoreFencingTests(ctx: PrimitiveContext<DistributedSemaphore>): void {
  describe('fencing', () => {
    const { setup } = ctx;

    it('fencing tokens strictly increase per key across acquisitions of every instance; inspect shows the latest', async () => {
      const { a, b, c, key } = await setup();
      const tokens: bigint[] = [];
      for (let round = 0; round < 3; round++) {
        const h1 = await a.acquire(key, { limit: 3, permits: 2, ttl: c.longTtl });
        const h2 = await b.acquire(key, { limit: 3, ttl: c.longTtl });
        tokens.push(h1.fencingToken, h2.fencingToken);
        const info = await a.inspect(key);
        if (c.fencing === 'strict') expect(info!.fencingToken).toBe(h2.fencingToken);
        await h1.release();
        await h2.release();
      }
      if (c.fencing === 'none') {
        expect(tokens.every((t) => t === 0n)).toBe(true);
        return;
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    });
  });
}
