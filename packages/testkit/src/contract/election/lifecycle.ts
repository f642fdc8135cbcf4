// Lifecycle: timeout and abort of a campaign, await using, close().
import { LockAcquireTimeoutError, LockClosedError, LockReleasedError, type Election } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the election contract's lifecycle tests. */
export function electionLifecycleTests(ctx: PrimitiveContext<Election>): void {
  describe('lifecycle', () => {
    const { setup } = ctx;

    it('a campaign gives up on waitTimeout and on abort, and leaves no candidate behind', async () => {
      const { a, b, c, key } = await setup();
      const leadership = await a.campaign(key, 'a', { ttl: c.longTtl });
      const startedAt = performance.now();
      await expect(b.campaign(key, 'b', { waitTimeout: 150 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
      const took = performance.now() - startedAt;
      expect(took).toBeGreaterThanOrEqual(145);
      expect(took).toBeLessThan(150 + c.wakeupBudgetMs);
      const controller = new AbortController();
      const waiting = b.campaign(key, 'b', { signal: controller.signal });
      expect(await pendingAfter(waiting, 100)).toBe(true);
      controller.abort(new Error('stop'));
      await expect(waiting).rejects.toEqual(new Error('stop'));
      await leadership.resign();
      // Nobody is left to take over: the gave-up candidates are gone.
      await sleep(100);
      expect(await a.leader(key)).toBeNull();
      const again = await a.campaign(key, 'a2', { ttl: c.longTtl, waitTimeout: c.wakeupBudgetMs });
      await again.resign();
    });

    it('await using resigns at the end of the block; the signal aborts with LockReleasedError', async () => {
      const { a, b, c, key } = await setup();
      let signal: AbortSignal;
      {
        await using leadership = await a.campaign(key, 'scoped', { ttl: c.longTtl });
        signal = leadership.signal;
        expect(await b.leader(key)).not.toBeNull();
      }
      expect(signal.reason).toBeInstanceOf(LockReleasedError);
      expect(await b.leader(key)).toBeNull();
    });

    it('close() resigns what the instance leads and fails its campaigns with LockClosedError', async () => {
      const { a, b, c, key } = await setup();
      const leadership = await a.campaign(key, 'a', { ttl: c.longTtl });
      const held = await b.campaign(`${key}:other`, 'b', { ttl: c.longTtl });
      const waiting = a.campaign(`${key}:other`, 'a', { ttl: c.longTtl }).catch((e: unknown) => e);
      await sleep(50);
      await a.close();
      expect(await waiting).toBeInstanceOf(LockClosedError);
      expect(leadership.held).toBe(false);
      const next = await b.campaign(key, 'b', { ttl: c.longTtl, waitTimeout: c.wakeupBudgetMs });
      expect(next.term).toBeGreaterThan(leadership.term);
      await expect(a.campaign(key, 'a')).rejects.toBeInstanceOf(LockClosedError);
      await expect(a.leader(key)).rejects.toBeInstanceOf(LockClosedError);
      expect(() => a.observe(key)).toThrow(LockClosedError);
      await Promise.all([next.resign(), held.resign()]);
    });
  });
}
