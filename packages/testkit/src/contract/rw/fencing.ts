// Fencing and inspection: tokens strictly increase per key across readers and writers; inspect
// reports readers, writer and the latest token.
import type { DistributedRWLock, LockHandle } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the read-write lock contract's fencing and inspection tests. */
export function rwFencingTests(ctx: PrimitiveContext<DistributedRWLock>): void {
  describe('fencing and inspect', () => {
    const { setup } = ctx;

    it('fencing tokens strictly increase per key across readers and writers of every instance', async () => {
      const { a, b, c, key } = await setup();
      const tokens: bigint[] = [];
      const take = async (h: LockHandle | Promise<LockHandle>) => {
        const handle = await h;
        tokens.push(handle.fencingToken);
        return handle;
      };
      for (let round = 0; round < 3; round++) {
        const r1 = await take(a.readLock(key, { ttl: c.longTtl }));
        const r2 = await take(b.readLock(key, { ttl: c.longTtl }));
        await r1.release();
        await r2.release();
        const w = await take((round % 2 === 0 ? a : b).writeLock(key, { ttl: c.longTtl }));
        await w.release();
      }
      expect(tokens).toHaveLength(9);
      if (c.fencing === 'none') {
        expect(tokens.every((t) => t === 0n)).toBe(true);
        return;
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    });

    it('inspect reports readers, writer and the latest fencing token; null once free', async () => {
      const { a, b, c, key } = await setup();
      expect(await a.inspect(key)).toBeNull();
      const r1 = await a.readLock(key, { ttl: c.longTtl });
      const r2 = await b.readLock(key, { ttl: c.longTtl });
      const reading = await b.inspect(key);
      expect(reading).toMatchObject({ key, readers: 2, writer: false, waiting: 0 });
      if (c.fencing === 'strict') expect(reading!.fencingToken).toBe(r2.fencingToken);
      await r1.release();
      await r2.release();
      const w = await b.writeLock(key, { ttl: c.longTtl });
      const writing = await a.inspect(key);
      expect(writing).toMatchObject({ key, readers: 0, writer: true });
      if (c.fencing === 'strict') expect(writing!.fencingToken).toBe(w.fencingToken);
      await w.release();
      expect(await a.inspect(key)).toBeNull();
    });
  });
}
