// Leases: a leader that stops renewing is replaced after its TTL and not before; renewal keeps it.
import { LockAcquireTimeoutError, LockLostError, LockNotHeldError, type Election } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the election contract's lease tests. */
export function electionExpiryTests(ctx: PrimitiveContext<Election>): void {
  describe('leases', () => {
    const { setup } = ctx;

    it('a leader that stops renewing is replaced after its TTL, not before; its signal aborts with LockLostError', async () => {
      const { a, b, c, key } = await setup();
      const startedAt = performance.now();
      const stale = await a.campaign(key, 'stale', { ttl: c.shortTtl, autoRenew: false });
      const next = await b.campaign(key, 'next', { ttl: c.longTtl, waitTimeout: c.shortTtl + c.wakeupBudgetMs + 3_000 });
      const took = performance.now() - startedAt;
      // The lease counts from after the campaign was sent: never replaced sooner than its TTL.
      expect(took).toBeGreaterThanOrEqual(c.shortTtl - 5);
      expect(took).toBeLessThan(c.shortTtl + c.wakeupBudgetMs + 1_500);
      expect(next.term).toBeGreaterThan(stale.term);
      await sleep(20);
      expect(stale.held).toBe(false);
      expect(stale.signal.reason).toBeInstanceOf(LockLostError);
      await expect(stale.proclaim('again')).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(stale.resign()).rejects.toBeInstanceOf(LockNotHeldError);
      expect(await a.leader(key)).toEqual({ value: 'next', term: next.term });
      await next.resign();
    });

    it('the watchdog (the default) keeps a leadership past its TTL; candidates keep waiting', async () => {
      const { a, b, c, key } = await setup();
      const leadership = await a.campaign(key, 'renewed', { ttl: c.shortTtl });
      await sleep(c.shortTtl * 2.5);
      expect(leadership.held).toBe(true);
      await expect(b.campaign(key, 'other', { waitTimeout: 200 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
      expect(await b.leader(key)).toEqual({ value: 'renewed', term: leadership.term });
      await leadership.resign();
    });

    it('extend() renews a leadership by hand; autoRenew() starts the watchdog later', async () => {
      const { a, b, c, key } = await setup();
      const leadership = await a.campaign(key, 'manual', { ttl: c.shortTtl, autoRenew: false });
      await sleep(c.shortTtl * 0.5);
      await leadership.extend();
      await sleep(c.shortTtl * 0.7);
      expect(leadership.held).toBe(true);
      // The watchdog's first renewal comes ttl/3 after autoRenew(): start it on a fresh lease.
      await leadership.extend();
      const stop = a.autoRenew(leadership);
      await sleep(c.shortTtl * 1.2);
      expect(leadership.held).toBe(true);
      expect(await b.leader(key)).toEqual({ value: 'manual', term: leadership.term });
      stop();
      await leadership.resign();
    });
  });
}
