// `close()`: releases what the instance holds, fails waiters and later calls with
// LockClosedError, is idempotent.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockClosedError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './context.js';

/** Registers the lock contract's close tests. */
export function closeTests(ctx: ContractContext): void {
  describe('close', () => {
    const { setup } = ctx;

    it('close() releases held locks, fails later calls with LockClosedError, and is idempotent', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.lock(key, { ttl: c.longTtl });
      const other = await a.lock(`${key}:2`, { ttl: c.longTtl });
      await a.close();
      await a.close();
      expect(h.held).toBe(false);
      expect(h.signal.aborted).toBe(true);
      expect(other.held).toBe(false);
      const mine = await b.tryLock(key);
      expect(mine).not.toBeNull();
      await expect(a.tryLock(`${key}:3`)).rejects.toBeInstanceOf(LockClosedError);
      await expect(a.lock(`${key}:3`)).rejects.toBeInstanceOf(LockClosedError);
      await expect(a.isLocked(key)).rejects.toBeInstanceOf(LockClosedError);
      await mine!.release();
    });

    it('close() fails waiters that are still waiting', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.lock(key, { ttl: c.longTtl });
      const waiting = b.lock(key).catch((e: unknown) => e);
      await sleep(100);
      await b.close();
      expect(await waiting).toBeInstanceOf(LockClosedError);
      await h.release();
    });

    it('close() while a waiter is still making its first attempt or subscribing fails it with LockClosedError', async () => {
      // Closing tears down the connections the waiter is using: that must not surface as a
      // backend error, whatever step the waiter was at.
      for (const delay of [0, 1, 2, 3, 4, 6, 8, 12, 20]) {
        const { a, b, c, key } = await setup();
        const h = await a.lock(key, { ttl: c.longTtl });
        const waiting = b.lock(key).catch((e: unknown) => e);
        await sleep(delay);
        await b.close();
        const outcome = await waiting;
        expect(outcome, `closed ${delay} ms after lock(): ${String(outcome)}`).toBeInstanceOf(LockClosedError);
        await h.release();
      }
    });

    it('close() while a tryLock is in flight: it rejects with LockClosedError or returns a handle close() released', async () => {
      // The closing connection must not surface as a backend error, and nothing may stay held.
      for (const delay of [0, 1, 2, 4, 8]) {
        const { b, c, key } = await setup();
        const attempt = b.tryLock(key, { ttl: c.longTtl }).catch((e: unknown) => e);
        await sleep(delay);
        await b.close();
        const outcome = await attempt;
        if (outcome !== null && typeof outcome === 'object' && 'held' in outcome) {
          expect((outcome as { held: boolean }).held, `closed ${delay} ms after tryLock()`).toBe(false);
        } else {
          expect(outcome, `closed ${delay} ms after tryLock(): ${String(outcome)}`).toBeInstanceOf(LockClosedError);
        }
      }
    });
  });
}
