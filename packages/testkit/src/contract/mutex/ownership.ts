// Only the holder releases or renews: a handle whose lease was lost is refused and leaves the
// new holder alone.
import { LockNotHeldError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's release and ownership tests. */
export function ownershipTests(ctx: ContractContext): void {
  describe('release and ownership', () => {
    const { setup } = ctx;

    it('unlock and renew of a lost lock raise LockNotHeldError and leave the new holder alone', async () => {
      const { a, b, c, key } = await setup();
      const old = (await a.tryLock(key, { ttl: c.shortTtl }))!;
      const current = await b.lock(key, { ttl: c.longTtl, waitTimeout: c.shortTtl * 4 + 2_000 });
      await expect(old.release()).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(old.extend(c.longTtl)).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(a.unlock(old)).rejects.toBeInstanceOf(LockNotHeldError);
      expect(await a.isLocked(key)).toBe(true);
      expect((await a.inspect(key))?.holder).toBe(current.token.slice(0, 8));
      expect(current.held).toBe(true);
      expect(current.signal.aborted).toBe(false);
      await current.release();
      await expect(current.release()).rejects.toBeInstanceOf(LockNotHeldError);
    });

    it('await using releases at the end of the block', async () => {
      const { a, b, key } = await setup();
      {
        await using h = await a.lock(key);
        expect(h.held).toBe(true);
        expect(await b.isLocked(key)).toBe(true);
      }
      expect(await b.isLocked(key)).toBe(false);
    });
  });
}
