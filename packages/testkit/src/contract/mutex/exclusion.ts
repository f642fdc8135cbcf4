// Mutual exclusion: a held key refuses everyone else, across instances and under concurrency;
// keys are told apart exactly.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DistributedLock } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import { uniqueKey } from '../../util.js';
import type { ContractContext } from './context.js';

/** Registers the lock contract's exclusion tests. */
export function exclusionTests(ctx: ContractContext): void {
  describe('exclusion', () => {
    const { setup } = ctx;

    it('a held key refuses a second tryLock; release frees it', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.tryLock(key, { ttl: c.longTtl });
      expect(h).not.toBeNull();
      expect(h!.key).toBe(key);
      expect(h!.token).toMatch(/^[0-9a-f]{32}$/);
      expect(h!.held).toBe(true);
      expect(await a.tryLock(key)).toBeNull();
      expect(await b.tryLock(key)).toBeNull();
      expect(await b.isLocked(key)).toBe(true);
      const info = await b.inspect(key);
      expect(info?.holder).toBe(h!.token.slice(0, 8));
      expect(info?.fencingToken).toBe(h!.fencingToken);
      expect(info!.ttlRemaining).toBeGreaterThan(c.longTtl / 2);
      await h!.release();
      expect(h!.held).toBe(false);
      expect(await b.isLocked(key)).toBe(false);
      expect(await b.inspect(key)).toBeNull();
    });

    it('two instances exclude each other, and the waiter gets the key when it is released', async () => {
      const { a, b, c, key } = await setup();
      const h = await a.lock(key, { ttl: c.longTtl });
      expect(await b.tryLock(key)).toBeNull();
      let acquired = false;
      const waiting = b.lock(key, { ttl: c.longTtl }).then((x) => {
        acquired = true;
        return x;
      });
      await sleep(200);
      expect(acquired).toBe(false);
      await h.release();
      const next = await waiting;
      expect(next.held).toBe(true);
      expect(await a.tryLock(key)).toBeNull();
      await next.release();
    });

    it('20 workers on two instances do an awaited read-modify-write without overlap', async () => {
      const { a, b, c, key } = await setup();
      let counter = 0;
      let inside = 0;
      let maxInside = 0;
      const fences: bigint[] = [];
      const worker = async (lock: DistributedLock) => {
        for (let i = 0; i < 5; i++) {
          const h = await lock.lock(key, { ttl: c.longTtl, waitTimeout: 30_000 });
          inside++;
          maxInside = Math.max(maxInside, inside);
          fences.push(h.fencingToken);
          const read = counter;
          await sleep(Math.random() < 0.5 ? 0 : 2);
          counter = read + 1;
          inside--;
          await h.release();
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, i) => worker(i % 2 === 0 ? a : b)));
      expect(counter).toBe(100);
      expect(maxInside).toBe(1);
      if (c.fencing === 'strict') {
        for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
      }
      expect(await a.isLocked(key)).toBe(false);
    }, 60_000);

    it('keys with unicode, spaces, colons and braces are distinct keys', async () => {
      const { a, b, c } = await setup();
      const base = uniqueKey();
      const keys = [`${base} with space`, `${base}:a:b`, `{${base}}`, `${base}}{`, `${base}/ключ/🔒`, `${base}*?[]`];
      const handles = await Promise.all(keys.map((k) => a.tryLock(k, { ttl: c.longTtl })));
      expect(handles.every((h) => h !== null)).toBe(true);
      for (const k of keys) expect(await b.tryLock(k)).toBeNull();
      expect(await b.isLocked(base)).toBe(false);
      for (const h of handles) await h!.release();
      for (const k of keys) expect(await b.isLocked(k)).toBe(false);
    });

    it('1000 distinct keys can be held at once', async () => {
      const { a, b, c } = await setup();
      const base = uniqueKey();
      const keys = Array.from({ length: 1000 }, (_, i) => `${base}:${i}`);
      const handles = await Promise.all(keys.map((k) => a.tryLock(k, { ttl: c.longTtl })));
      expect(handles.filter((h) => h !== null)).toHaveLength(1000);
      expect(await b.tryLock(keys[500]!)).toBeNull();
      await Promise.all(handles.map((h) => h!.release()));
      expect(await b.isLocked(keys[999]!)).toBe(false);
    }, 60_000);
  });
}
