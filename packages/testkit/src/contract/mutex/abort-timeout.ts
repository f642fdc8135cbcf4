// Giving up: `waitTimeout` on time (0 = one attempt), an abort signal before and during waiting,
// leaving no trace.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockAcquireTimeoutError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's abort and timeout tests. */
export function abortAndTimeoutTests(ctx: ContractContext): void {
  describe('abort and timeout', () => {
    const { setup } = ctx;

    it('waitTimeout gives up with LockAcquireTimeoutError on time; 0 means one attempt', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.lock(key, { ttl: c.longTtl });
      const started = performance.now();
      const error = await b.lock(key, { waitTimeout: 300 }).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(error).toBeInstanceOf(LockAcquireTimeoutError);
      expect((error as LockAcquireTimeoutError).key).toBe(key);
      expect((error as Error).message).toContain(key);
      expect(took).toBeGreaterThanOrEqual(280);
      expect(took).toBeLessThan(300 + c.wakeupBudgetMs);
      const zero = performance.now();
      await expect(b.lock(key, { waitTimeout: 0 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
      expect(performance.now() - zero).toBeLessThan(c.wakeupBudgetMs);
      await h.release();
      const free = await b.lock(key, { waitTimeout: 0 });
      expect(free.held).toBe(true);
      await free.release();
    });

    it('an aborted signal rejects with its reason before and during waiting, leaving no trace', async () => {
      const { a, b, c, key } = await setup();
      const reason = new Error('caller gave up');
      await expect(a.lock(key, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      await expect(a.tryLock(key, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(await a.isLocked(key)).toBe(false);

      const h = await a.lock(key, { ttl: c.longTtl });
      const controller = new AbortController();
      const waiting = b.lock(key, { ttl: c.longTtl, signal: controller.signal });
      await sleep(150);
      const abortedAt = performance.now();
      controller.abort(reason);
      await expect(waiting).rejects.toBe(reason);
      expect(performance.now() - abortedAt).toBeLessThan(c.wakeupBudgetMs);
      await h.release();
      await sleep(100);
      expect(await a.isLocked(key)).toBe(false);
      const again = await b.tryLock(key);
      expect(again).not.toBeNull();
      await again!.release();
    });
  });
}
