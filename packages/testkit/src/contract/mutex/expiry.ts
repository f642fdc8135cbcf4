// TTLs: a lease runs out and frees the key, renewing and `withLock` keep it, the longest TTL
// does not overflow a timer.
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_TTL_MS, LockLostError, LockService, type LockHandle } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../util.js';
import type { ContractContext } from './context.js';

/** Registers the lock contract's ttl and expiry tests. */
export function expiryTests(ctx: ContractContext): void {
  describe('ttl and expiry', () => {
    const { setup } = ctx;

    it('TTL expiry frees the key and aborts the old holder signal with LockLostError', async () => {
      const { a, b, c, key } = await setup();
      // The lease starts on the server somewhere between sending the request and the reply, so
      // "not before it ran out" is measured from before the request: a slow reply on a busy
      // machine must not look like an early expiry.
      const requested = performance.now();
      const h = (await a.tryLock(key, { ttl: c.shortTtl }))!;
      expect(h).not.toBeNull();
      const started = performance.now();
      const next = await b.lock(key, { ttl: c.longTtl, waitTimeout: c.shortTtl * 4 + 2_000 });
      const acquired = performance.now();
      // Not before the lease ran out (a little slack for clock granularity), and not much after.
      expect(acquired - requested).toBeGreaterThanOrEqual(c.shortTtl * 0.9);
      expect(acquired - started).toBeLessThan(c.shortTtl * 3 + 1_500);
      await waitFor(() => h.signal.aborted, c.shortTtl + 1_000);
      expect(h.signal.reason).toBeInstanceOf(LockLostError);
      expect(h.held).toBe(false);
      await next.release();
    });

    it('renew extends the lease past the original TTL', async () => {
      const { a, b, c, key } = await setup();
      const h = (await a.tryLock(key, { ttl: c.shortTtl }))!;
      const before = h.validUntil;
      await h.extend(c.longTtl);
      expect(h.validUntil).toBeGreaterThan(before);
      await sleep(c.shortTtl + 300);
      expect(h.held).toBe(true);
      expect(await b.tryLock(key)).toBeNull();
      await h.release();
    });

    it('the longest ttl (2^31 - 1 ms) holds the key without timer overflow', async () => {
      const { a, b, key } = await setup();
      const warnings: Error[] = [];
      const onWarning = (w: Error): void => void warnings.push(w);
      process.on('warning', onWarning);
      try {
        const h = (await a.tryLock(key, { ttl: MAX_TTL_MS }))!;
        expect(h.held).toBe(true);
        const stop = (a as { autoRenew?: (h: LockHandle) => () => void }).autoRenew?.(h);
        // An overflowing timer fires after ~1 ms: this is long enough for the key to be taken.
        await sleep(200);
        expect(await b.tryLock(key)).toBeNull();
        expect(await a.tryLock(key)).toBeNull();
        expect(h.held).toBe(true);
        expect(h.signal.aborted).toBe(false);
        stop?.();
        await h.release();
      } finally {
        process.off('warning', onWarning);
      }
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
    });

    it('withLock keeps the lock alive through a function that runs 3x the TTL', async () => {
      const { a, b, c, key } = await setup();
      const service = new LockService(a, { ttl: c.shortTtl });
      let fence = -1n;
      const value = await service.withLock(key, async (h) => {
        fence = h.fencingToken;
        await sleep(c.shortTtl * 3);
        expect(h.signal.aborted).toBe(false);
        expect(await b.tryLock(key)).toBeNull();
        return 'done';
      });
      expect(value).toBe('done');
      expect(fence).toBeGreaterThanOrEqual(0n);
      expect(await b.isLocked(key)).toBe(false);
    }, 60_000);
  });
}
