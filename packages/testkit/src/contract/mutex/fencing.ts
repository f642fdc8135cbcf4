// Fencing tokens: strictly increasing per key across holders and instances (always `0n` for a
// backend without fencing).
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's fencing tests. */
export function fencingTests(ctx: ContractContext): void {
  describe('fencing', () => {
    const { setup } = ctx;

    it('fencing tokens strictly increase across holders and instances (always 0n without fencing)', async () => {
      const { a, b, c, key } = await setup();
      const tokens: bigint[] = [];
      for (let i = 0; i < 6; i++) {
        const lock = i % 2 === 0 ? a : b;
        const h = await lock.lock(key, { ttl: c.longTtl, waitTimeout: 5_000 });
        tokens.push(h.fencingToken);
        await h.release();
      }
      if (c.fencing === 'none') {
        expect(tokens.every((t) => t === 0n)).toBe(true);
        return;
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    });
  });
}
