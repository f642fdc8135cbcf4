// Bad input: limit and permits (integers, 1 <= permits <= limit), keys, TTLs and unknown options
// are refused with InvalidOptionError before anything is written; a limit that disagrees with the
// key's holders and waiters is a SemaphoreLimitMismatchError that takes nothing.
import { InvalidOptionError, SemaphoreLimitMismatchError, type DistributedSemaphore, type SemaphoreOptions } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the semaphore contract's input validation tests. */
export function semaphoreValidationTests(ctx: PrimitiveContext<DistributedSemaphore>): void {
  describe('input validation', () => {
    const { setup } = ctx;

    it('bad limit, permits, key, ttl or option raises InvalidOptionError naming it, and writes nothing', async () => {
      const { a, key } = await setup();
      const bad: Array<[unknown, string]> = [
        [undefined, 'options'],
        [{}, 'limit'],
        [{ limit: 0 }, 'limit'],
        [{ limit: -2 }, 'limit'],
        [{ limit: 2.5 }, 'limit'],
        [{ limit: Number.NaN }, 'limit'],
        [{ limit: '4' }, 'limit'],
        [{ limit: 2 ** 40 }, 'limit'],
        [{ limit: 3, permits: 0 }, 'permits'],
        [{ limit: 3, permits: 4 }, 'permits'],
        [{ limit: 3, permits: 1.5 }, 'permits'],
        [{ limit: 3, permits: -1 }, 'permits'],
        [{ limit: 3, ttl: 0 }, 'ttl'],
        [{ limit: 3, waitTimeout: -1 }, 'waitTimeout'],
        [{ limit: 3, mode: 'write' }, 'mode'],
        [{ limit: 3, permit: 2 }, 'permit'],
      ];
      for (const [options, option] of bad) {
        for (const call of [a.tryAcquire.bind(a), a.acquire.bind(a)]) {
          const error = await call(key, options as SemaphoreOptions).catch((e: unknown) => e);
          expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
          expect((error as InvalidOptionError).option).toBe(option);
        }
      }
      for (const k of ['', 7, '\ud800']) {
        await expect(a.tryAcquire(k as string, { limit: 2 })).rejects.toBeInstanceOf(InvalidOptionError);
      }
      expect(await a.inspect(key)).toBeNull();
    });

    it('a limit that disagrees with the holders and waiters of a key raises SemaphoreLimitMismatchError and takes nothing', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.acquire(key, { limit: 2, permits: 2, ttl: c.longTtl });
      const waiter = a.acquire(key, { limit: 2, ttl: c.longTtl });
      expect(await pendingAfter(waiter, 50)).toBe(true);
      for (const call of [b.tryAcquire.bind(b), b.acquire.bind(b)]) {
        const error = await call(key, { limit: 5, ttl: c.longTtl }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SemaphoreLimitMismatchError);
        expect(error).toMatchObject({ key, limit: 5, currentLimit: 2 });
      }
      expect(await b.inspect(key)).toMatchObject({ used: 2, holders: 1, limit: 2, waiting: 1 });
      await h.release();
      const w = await waiter;
      await w.release();
      // Once nobody holds or waits, the key takes a new limit.
      const again = await b.acquire(key, { limit: 5, permits: 5, ttl: c.longTtl });
      expect(await a.inspect(key)).toMatchObject({ used: 5, limit: 5 });
      await again.release();
    });
  });
}
