// Exclusion: readers share a key, a writer has it alone, across instances and under concurrency.
import type { DistributedRWLock } from '@dlock/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pendingAfter, type PrimitiveContext } from '../primitive-context.js';

/** Registers the read-write lock contract's exclusion tests. */
export function rwExclusionTests(ctx: PrimitiveContext<DistributedRWLock>): void {
  describe('exclusion', () => {
    const { setup } = ctx;

    it('readers of two instances share a key; a writer waits for every one of them', async () => {
      const { a, b, c, key } = await setup();
      const r1 = await a.readLock(key, { ttl: c.longTtl });
      const r2 = (await b.tryReadLock(key, { ttl: c.longTtl }))!;
      expect(r2).not.toBeNull();
      expect(await a.inspect(key)).toMatchObject({ key, readers: 2, writer: false });
      expect(await a.tryWriteLock(key, { ttl: c.longTtl })).toBeNull();
      expect(await b.tryWriteLock(key, { ttl: c.longTtl })).toBeNull();
      const writing = b.writeLock(key, { ttl: c.longTtl });
      await r1.release();
      expect(await pendingAfter(writing, 150)).toBe(true); // one reader still holds
      const releasedAt = performance.now();
      await r2.release();
      const w = await writing;
      expect(performance.now() - releasedAt).toBeLessThan(c.wakeupBudgetMs);
      expect(await a.inspect(key)).toMatchObject({ readers: 0, writer: true });
      await w.release();
      expect(await a.inspect(key)).toBeNull();
    });

    it('a writer excludes readers and writers of every instance until it releases', async () => {
      const { a, b, c, key } = await setup();
      const w = (await a.tryWriteLock(key, { ttl: c.longTtl }))!;
      expect(w).not.toBeNull();
      expect(await b.tryReadLock(key, { ttl: c.longTtl })).toBeNull();
      expect(await b.tryWriteLock(key, { ttl: c.longTtl })).toBeNull();
      expect(await a.tryReadLock(key, { ttl: c.longTtl })).toBeNull();
      const reading = b.readLock(key, { ttl: c.longTtl });
      expect(await pendingAfter(reading, 150)).toBe(true);
      await w.release();
      const r = await reading;
      expect(r.held).toBe(true);
      await r.release();
    });

    it('under concurrency no writer overlaps any other holder, and readers do overlap', async () => {
      const { a, b, c, key } = await setup();
      let readers = 0;
      let writers = 0;
      let maxReaders = 0;
      let violations = 0;
      let writes = 0;
      const worker = async (lock: DistributedRWLock, i: number) => {
        for (let round = 0; round < 4; round++) {
          const write = (i + round) % 4 === 0;
          const h = write ? await lock.writeLock(key, { ttl: c.longTtl }) : await lock.readLock(key, { ttl: c.longTtl });
          if (write) {
            writers++;
            if (writers > 1 || readers > 0) violations++;
            writes++;
          } else {
            readers++;
            if (writers > 0) violations++;
            maxReaders = Math.max(maxReaders, readers);
          }
          await sleep(3 + (i % 3) * 2);
          if (write) writers--;
          else readers--;
          await h.release();
        }
      };
      await Promise.all(Array.from({ length: 12 }, (_, i) => worker(i % 2 === 0 ? a : b, i)));
      expect(violations).toBe(0);
      expect(writes).toBe(12);
      expect(maxReaders).toBeGreaterThan(1);
      expect(await a.inspect(key)).toBeNull();
    });
  });
}
