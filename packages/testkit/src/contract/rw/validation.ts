// Bad input: keys, TTLs, wait timeouts, signals and handles are refused with InvalidOptionError
// before anything is written.
import { InvalidOptionError, MAX_TTL_MS, type DistributedRWLock, type LockHandle } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the read-write lock contract's input validation tests. */
export function rwValidationTests(ctx: PrimitiveContext<DistributedRWLock>): void {
  describe('input validation', () => {
    const { setup } = ctx;

    it('bad input raises InvalidOptionError for every method, and writes nothing', async () => {
      const { a, b, key } = await setup();
      const calls = [
        (k: string, o?: object) => a.tryReadLock(k, o),
        (k: string, o?: object) => a.readLock(k, o),
        (k: string, o?: object) => a.tryWriteLock(k, o),
        (k: string, o?: object) => a.writeLock(k, o),
      ];
      for (const call of calls) {
        for (const bad of ['', 42, null, 'x'.repeat(2_000), '\ud800']) {
          await expect(call(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
        }
        for (const ttl of [0, -1, 1.5, Number.NaN, '10', MAX_TTL_MS + 1]) {
          await expect(call(key, { ttl })).rejects.toBeInstanceOf(InvalidOptionError);
        }
        await expect(call(key, { waitTimeout: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(call(key, { signal: 'nope' })).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(call(key, { mode: 'read' })).rejects.toBeInstanceOf(InvalidOptionError);
      }
      await expect(a.inspect('')).rejects.toBeInstanceOf(InvalidOptionError);
      expect(await a.inspect(key)).toBeNull();
      const h = (await a.tryReadLock(key))!;
      await expect(b.unlock(h)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(a.unlock({ key } as unknown as LockHandle)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(a.renew(h, 0)).rejects.toBeInstanceOf(InvalidOptionError);
      expect(h.held).toBe(true);
      await h.release();
    });
  });
}
