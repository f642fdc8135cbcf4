// Bad input: keys, TTLs, wait timeouts, signals and handles are refused with InvalidOptionError
// before anything is written.
import { InvalidOptionError, MAX_TTL_MS, type LockHandle } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's input validation tests. */
export function validationTests(ctx: ContractContext): void {
  describe('input validation', () => {
    const { setup } = ctx;

    it('bad input raises InvalidOptionError naming the value, and writes nothing', async () => {
      const { a, key } = await setup();
      // Lone surrogates: Redis and etcd would store all of these as U+FFFD, one lock for three keys.
      const badKeys: unknown[] = ['', 42, null, undefined, {}, 'x'.repeat(2_000), '\ud800', '\udfff', `${key}\ud800`];
      for (const bad of badKeys) {
        await expect(a.tryLock(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(a.lock(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(a.isLocked(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
      }
      const badTtls: unknown[] = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1.5, '10', MAX_TTL_MS + 1, 2 ** 53];
      for (const ttl of badTtls) {
        const error = await a.tryLock(key, { ttl: ttl as number }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as Error).message).toMatch(/^ttl must be/);
        await expect(a.lock(key, { ttl: ttl as number })).rejects.toBeInstanceOf(InvalidOptionError);
      }
      for (const waitTimeout of [-1, Number.NaN, '5']) {
        await expect(a.lock(key, { waitTimeout: waitTimeout as number })).rejects.toBeInstanceOf(InvalidOptionError);
      }
      await expect(a.lock(key, { signal: 'nope' as unknown as AbortSignal })).rejects.toBeInstanceOf(
        InvalidOptionError,
      );
      expect(await a.isLocked(key)).toBe(false);
      const h = (await a.tryLock(key))!;
      await expect(h.extend(-5)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(h.extend(MAX_TTL_MS + 1)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(a.unlock({ key } as unknown as LockHandle)).rejects.toBeInstanceOf(InvalidOptionError);
      expect(h.held).toBe(true);
      await h.release();
    });
  });
}
