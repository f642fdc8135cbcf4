// Ordering: writer-preferring FIFO across instances; readers queued together enter together; a
// writer that gives up lets the readers behind it in.
import { LockAcquireTimeoutError, type DistributedRWLock, type LockHandle } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the read-write lock contract's ordering tests. */
export function rwOrderingTests(ctx: PrimitiveContext<DistributedRWLock>): void {
  describe('writer-preferring FIFO', () => {
    const { setup } = ctx;

    it('a waiting writer holds back later readers of every instance', async () => {
      const { a, b, c, key } = await setup();
      const first = await a.readLock(key, { ttl: c.longTtl });
      const order: string[] = [];
      const writer = b.writeLock(key, { ttl: c.longTtl }).then(async (w) => {
        order.push('writer');
        await sleep(30);
        order.push('writer done');
        await w.release();
      });
      await sleep(50);
      // A reader could share the key with `first`, but a writer waits: it is held back.
      expect(await a.tryReadLock(key, { ttl: c.longTtl })).toBeNull();
      expect(await b.tryReadLock(key, { ttl: c.longTtl })).toBeNull();
      const reader = a.readLock(key, { ttl: c.longTtl }).then(async (r) => {
        order.push('reader');
        await r.release();
      });
      expect(await pendingAfter(reader, 100)).toBe(true);
      await first.release();
      await Promise.all([writer, reader]);
      expect(order).toEqual(['writer', 'writer done', 'reader']);
    });

    it('readers queued together enter together when the writer releases', async () => {
      const { a, b, c, key } = await setup();
      const w = await a.writeLock(key, { ttl: c.longTtl });
      const held: LockHandle[] = [];
      const readers = [a, b, a, b].map((lock) => lock.readLock(key, { ttl: c.longTtl }).then((r) => held.push(r)));
      await sleep(100);
      expect(held).toHaveLength(0);
      const releasedAt = performance.now();
      await w.release();
      await Promise.all(readers);
      expect(performance.now() - releasedAt).toBeLessThan(c.wakeupBudgetMs);
      // Nobody released yet: all four hold at once.
      expect(held.every((r) => r.held)).toBe(true);
      expect(await b.inspect(key)).toMatchObject({ readers: 4, writer: false });
      await Promise.all(held.map((r) => r.release()));
    });

    it('serves writers and groups of readers in arrival order: W1, (R1 R2), W2, R3', async () => {
      const { a, b, c, key } = await setup();
      const holder = await a.writeLock(key, { ttl: c.longTtl });
      const events: string[] = [];
      const run = async (name: string, lock: DistributedRWLock, write: boolean, delay: number) => {
        await sleep(delay);
        const h = write ? await lock.writeLock(key, { ttl: c.longTtl }) : await lock.readLock(key, { ttl: c.longTtl });
        events.push(`+${name}`);
        await sleep(40);
        events.push(`-${name}`);
        await h.release();
      };
      const all = [
        run('W1', b, true, 0),
        run('R1', a, false, 40),
        run('R2', b, false, 80),
        run('W2', a, true, 120),
        run('R3', b, false, 160),
      ];
      await sleep(250);
      await holder.release();
      await Promise.all(all);
      const at = (e: string) => events.indexOf(e);
      expect(at('+W1')).toBe(0);
      expect(at('-W1')).toBe(1);
      // R1 and R2 overlap: both entered before either left.
      expect(Math.max(at('+R1'), at('+R2'))).toBeLessThan(Math.min(at('-R1'), at('-R2')));
      expect(at('+W2')).toBeGreaterThan(Math.max(at('-R1'), at('-R2')));
      expect(at('-W2')).toBe(at('+W2') + 1);
      expect(at('+R3')).toBeGreaterThan(at('-W2'));
    });

    it('a waiting writer that gives up lets the readers queued behind it in', async () => {
      const { a, b, c, key } = await setup();
      const first = await a.readLock(key, { ttl: c.longTtl });
      const controller = new AbortController();
      const writer = b.writeLock(key, { ttl: c.longTtl, signal: controller.signal }).catch((e: unknown) => e);
      const timed = a.writeLock(key, { ttl: c.longTtl, waitTimeout: 500 }).catch((e: unknown) => e);
      await sleep(50);
      const reader = b.readLock(key, { ttl: c.longTtl });
      expect(await pendingAfter(reader, 50)).toBe(true);
      controller.abort(new Error('writer gave up'));
      expect(await writer).toEqual(new Error('writer gave up'));
      expect(await pendingAfter(reader, 20)).toBe(true); // the timed writer still waits ahead
      expect(await timed).toBeInstanceOf(LockAcquireTimeoutError);
      const leftAt = performance.now();
      const r = await reader;
      expect(performance.now() - leftAt).toBeLessThan(c.wakeupBudgetMs);
      expect(first.held).toBe(true);
      expect(await a.inspect(key)).toMatchObject({ readers: 2, writer: false, waiting: 0 });
      await r.release();
      await first.release();
    });
  });
}
