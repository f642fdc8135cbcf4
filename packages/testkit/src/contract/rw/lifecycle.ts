// Leases and lifecycle: expiry, renewal, owner-checked unlock, timeout and abort, close().
import {
  LockAcquireTimeoutError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
  type DistributedRWLock,
} from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the read-write lock contract's lease and lifecycle tests. */
export function rwLifecycleTests(ctx: PrimitiveContext<DistributedRWLock>): void {
  describe('leases and lifecycle', () => {
    const { setup } = ctx;

    it("a reader's lease expires: its signal aborts with LockLostError and a waiting writer gets the key", async () => {
      const { a, b, c, key } = await setup();
      const r = await a.readLock(key, { ttl: c.shortTtl });
      const startedAt = performance.now();
      const w = await b.writeLock(key, { ttl: c.longTtl, waitTimeout: c.shortTtl + c.wakeupBudgetMs + 2_000 });
      expect(performance.now() - startedAt).toBeGreaterThan(c.shortTtl * 0.5);
      await sleep(50);
      expect(r.held).toBe(false);
      expect(r.signal.reason).toBeInstanceOf(LockLostError);
      await expect(r.release()).rejects.toBeInstanceOf(LockNotHeldError);
      expect(w.held).toBe(true);
      await w.release();
    });

    it('autoRenew keeps a read lock and a write lock past their TTL', async () => {
      const { a, b, c, key } = await setup();
      const r = await a.readLock(key, { ttl: c.shortTtl });
      const stop = a.autoRenew(r);
      await sleep(c.shortTtl * 3);
      expect(r.held).toBe(true);
      expect(await b.tryWriteLock(key, { ttl: c.longTtl })).toBeNull();
      stop();
      await r.release();
      const w = await b.writeLock(key, { ttl: c.shortTtl });
      await sleep(c.shortTtl / 2);
      await b.renew(w, c.shortTtl * 4);
      await sleep(c.shortTtl);
      expect(w.held).toBe(true);
      expect(await a.tryReadLock(key, { ttl: c.longTtl })).toBeNull();
      await w.release();
    });

    it('unlock is owner-checked: a second release raises LockNotHeldError and leaves the other reader alone', async () => {
      const { a, b, c, key } = await setup();
      const r1 = await a.readLock(key, { ttl: c.longTtl });
      const r2 = await b.readLock(key, { ttl: c.longTtl });
      await a.unlock(r1);
      await expect(a.unlock(r1)).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(b.renew(r2)).resolves.toBeUndefined();
      expect(await a.inspect(key)).toMatchObject({ readers: 1 });
      expect(r2.held).toBe(true);
      await r2.release();
    });

    it('readLock and writeLock give up on waitTimeout and on abort, and leave no place behind', async () => {
      const { a, b, c, key } = await setup();
      const w = await a.writeLock(key, { ttl: c.longTtl });
      const startedAt = performance.now();
      await expect(b.readLock(key, { ttl: c.longTtl, waitTimeout: 100 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
      const took = performance.now() - startedAt;
      expect(took).toBeGreaterThanOrEqual(95);
      expect(took).toBeLessThan(100 + c.wakeupBudgetMs);
      const controller = new AbortController();
      const writing = b.writeLock(key, { ttl: c.longTtl, signal: controller.signal });
      expect(await pendingAfter(writing, 50)).toBe(true);
      controller.abort(new Error('stop'));
      await expect(writing).rejects.toEqual(new Error('stop'));
      expect(await a.inspect(key)).toMatchObject({ writer: true, waiting: 0 });
      await w.release();
      // Nobody queued is left to hold readers back.
      const r = await b.tryReadLock(key, { ttl: c.longTtl });
      expect(r).not.toBeNull();
      await r!.release();
    });

    it('close() releases what the instance holds and fails its waiters with LockClosedError', async () => {
      const { a, b, c, key } = await setup();
      const r = await a.readLock(key, { ttl: c.longTtl });
      const other = await b.writeLock(`${key}:other`, { ttl: c.longTtl });
      const waiting = a.writeLock(`${key}:other`, { ttl: c.longTtl }).catch((e: unknown) => e);
      await sleep(50);
      await a.close();
      expect(await waiting).toBeInstanceOf(LockClosedError);
      expect(r.held).toBe(false);
      const w = await b.writeLock(key, { ttl: c.longTtl, waitTimeout: c.wakeupBudgetMs });
      expect(w.held).toBe(true);
      await expect(a.readLock(key)).rejects.toBeInstanceOf(LockClosedError);
      await w.release();
      await other.release();
    });
  });
}
