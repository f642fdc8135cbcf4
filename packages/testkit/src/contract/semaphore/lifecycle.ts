// Leases and lifecycle: expiry, renewal, owner-checked release, timeout and abort, close().
import {
  LockAcquireTimeoutError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
  type DistributedSemaphore,
} from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the semaphore contract's lease and lifecycle tests. */
export function semaphoreLifecycleTests(ctx: PrimitiveContext<DistributedSemaphore>): void {
  describe('leases and lifecycle', () => {
    const { setup } = ctx;

    it("a holder's lease expires: its signal aborts with LockLostError and a waiter gets the permits", async () => {
      const { a, b, c, key } = await setup();
      const h = await a.acquire(key, { limit: 2, permits: 2, ttl: c.shortTtl });
      const startedAt = performance.now();
      const next = await b.acquire(key, { limit: 2, ttl: c.longTtl, waitTimeout: c.shortTtl + c.wakeupBudgetMs + 2_000 });
      expect(performance.now() - startedAt).toBeGreaterThan(c.shortTtl * 0.5);
      await sleep(50);
      expect(h.held).toBe(false);
      expect(h.signal.reason).toBeInstanceOf(LockLostError);
      await expect(a.release(h)).rejects.toBeInstanceOf(LockNotHeldError);
      await next.release();
    });

    it('autoRenew and renew keep permits past their TTL', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.acquire(key, { limit: 1, ttl: c.shortTtl });
      const stop = a.autoRenew(h);
      await sleep(c.shortTtl * 3);
      expect(h.held).toBe(true);
      expect(await b.tryAcquire(key, { limit: 1, ttl: c.longTtl })).toBeNull();
      stop();
      await a.renew(h, c.shortTtl * 4);
      await sleep(c.shortTtl);
      expect(h.held).toBe(true);
      await h.release();
      expect(await b.inspect(key)).toBeNull();
    });

    it('release is owner-checked: a second release raises LockNotHeldError and leaves the other holder alone', async () => {
      const { a, b, c, key } = await setup();
      const h1 = await a.acquire(key, { limit: 2, ttl: c.longTtl });
      const h2 = await b.acquire(key, { limit: 2, ttl: c.longTtl });
      await a.release(h1);
      await expect(a.release(h1)).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(h1.release()).rejects.toBeInstanceOf(LockNotHeldError);
      expect(await a.inspect(key)).toMatchObject({ used: 1, holders: 1 });
      expect(h2.held).toBe(true);
      await h2.release();
    });

    it('acquire gives up on waitTimeout and on abort, and leaves no place behind', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.acquire(key, { limit: 2, permits: 2, ttl: c.longTtl });
      const startedAt = performance.now();
      await expect(b.acquire(key, { limit: 2, ttl: c.longTtl, waitTimeout: 100 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
      const took = performance.now() - startedAt;
      expect(took).toBeGreaterThanOrEqual(95);
      expect(took).toBeLessThan(100 + c.wakeupBudgetMs);
      const controller = new AbortController();
      const waiting = b.acquire(key, { limit: 2, permits: 2, ttl: c.longTtl, signal: controller.signal });
      expect(await pendingAfter(waiting, 50)).toBe(true);
      controller.abort(new Error('stop'));
      await expect(waiting).rejects.toEqual(new Error('stop'));
      expect(await a.inspect(key)).toMatchObject({ used: 2, waiting: 0 });
      await h.release();
      const one = await b.tryAcquire(key, { limit: 2, ttl: c.longTtl });
      expect(one).not.toBeNull();
      await one!.release();
    });

    it('close() releases the permits the instance holds and fails its waiters with LockClosedError', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.acquire(key, { limit: 1, ttl: c.longTtl });
      const other = await b.acquire(`${key}:other`, { limit: 1, ttl: c.longTtl });
      const waiting = a.acquire(`${key}:other`, { limit: 1, ttl: c.longTtl }).catch((e: unknown) => e);
      await sleep(50);
      await a.close();
      expect(await waiting).toBeInstanceOf(LockClosedError);
      expect(h.held).toBe(false);
      const next = await b.acquire(key, { limit: 1, ttl: c.longTtl, waitTimeout: c.wakeupBudgetMs });
      expect(next.held).toBe(true);
      await expect(a.acquire(key, { limit: 1 })).rejects.toBeInstanceOf(LockClosedError);
      await next.release();
      await other.release();
    });
  });
}
