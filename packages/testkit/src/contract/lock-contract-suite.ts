import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidOptionError,
  MAX_TTL_MS,
  LockAcquireTimeoutError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
  LockService,
  type DistributedLock,
  type LockHandle,
} from '@dlock/core';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueKey, waitFor } from '../util.js';
import { resolveContract, type ContractOptions, type ResolvedContract } from './capabilities.js';
import { outageContractSuite } from './outage-contract-suite.js';

/** Makes a new, independent lock instance (its own connection where the backend has one). */
export type LockFactory = () => DistributedLock | Promise<DistributedLock>;

/**
 * The behaviours every dlock backend must show, against whatever server the factory connects
 * to. A backend's test file calls this once; backend-specific tests live beside it.
 *
 * @example
 * ```ts
 * lockContractSuite('RedisLock', () => new RedisLock({ port: server.port }), { fifo: true });
 * ```
 */
export function lockContractSuite(name: string, factory: LockFactory, options: ContractOptions = {}): void {
  if (options.outage !== undefined) outageContractSuite(name, factory, options.outage);
  describe(`${name}: lock contract`, () => {
    const opened: DistributedLock[] = [];
    const open = async (): Promise<DistributedLock> => {
      const lock = await factory();
      opened.push(lock);
      return lock;
    };
    const setup = async (): Promise<{ a: DistributedLock; b: DistributedLock; c: ResolvedContract; key: string }> => {
      const a = await open();
      const b = await open();
      return { a, b, c: resolveContract(a, options), key: uniqueKey() };
    };

    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((l) => l.close()));
    });

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

    it('lock() waits and is woken by a release long before the TTL', async () => {
      const { a, b, c, key } = await setup();
      const holder = await a.lock(key, { ttl: c.longTtl });
      const waiting = b.lock(key, { ttl: c.longTtl });
      await sleep(150);
      const releasedAt = performance.now();
      await holder.release();
      const next = await waiting;
      const wake = performance.now() - releasedAt;
      expect(next.held).toBe(true);
      expect(wake).toBeLessThan(c.wakeupBudgetMs);
      await next.release();
    });

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

    it('unlock and renew of a lost lock raise LockNotHeldError and leave the new holder alone', async () => {
      const { a, b, c, key } = await setup();
      const old = (await a.tryLock(key, { ttl: c.shortTtl }))!;
      const current = await b.lock(key, { ttl: c.longTtl, waitTimeout: c.shortTtl * 4 + 2_000 });
      await expect(old.release()).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(old.extend(c.longTtl)).rejects.toBeInstanceOf(LockNotHeldError);
      await expect(a.unlock(old)).rejects.toBeInstanceOf(LockNotHeldError);
      expect(await a.isLocked(key)).toBe(true);
      expect((await a.inspect(key))?.holder).toBe(current.token.slice(0, 8));
      expect(current.held).toBe(true);
      expect(current.signal.aborted).toBe(false);
      await current.release();
      await expect(current.release()).rejects.toBeInstanceOf(LockNotHeldError);
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

    it('fencing tokens strictly increase across holders and instances', async () => {
      const { a, b, c, key } = await setup();
      const tokens: bigint[] = [];
      for (let i = 0; i < 6; i++) {
        const lock = i % 2 === 0 ? a : b;
        const h = await lock.lock(key, { ttl: c.longTtl, waitTimeout: 5_000 });
        tokens.push(h.fencingToken);
        await h.release();
      }
      if (c.fencing === 'none') {
        expect(tokens.every((t) => t === 0n)).toBe(true);
        return;
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
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

    it('bad input raises InvalidOptionError naming the value, and writes nothing', async () => {
      const { a, key } = await setup();
      // Lone surrogates: Redis and etcd would store all of these as U+FFFD, one lock for three keys.
      const badKeys: unknown[] = ['', 42, null, undefined, {}, 'x'.repeat(2_000), '\ud800', '\udfff', `${key}\ud800`];
      for (const bad of badKeys) {
        await expect(a.tryLock(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(a.lock(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(a.isLocked(bad as string)).rejects.toBeInstanceOf(InvalidOptionError);
      }
      const badTtls: unknown[] = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1.5, '10', MAX_TTL_MS + 1, 2 ** 53];
      for (const ttl of badTtls) {
        const error = await a.tryLock(key, { ttl: ttl as number }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as Error).message).toMatch(/^ttl must be/);
        await expect(a.lock(key, { ttl: ttl as number })).rejects.toBeInstanceOf(InvalidOptionError);
      }
      for (const waitTimeout of [-1, Number.NaN, '5']) {
        await expect(a.lock(key, { waitTimeout: waitTimeout as number })).rejects.toBeInstanceOf(InvalidOptionError);
      }
      await expect(a.lock(key, { signal: 'nope' as unknown as AbortSignal })).rejects.toBeInstanceOf(
        InvalidOptionError,
      );
      expect(await a.isLocked(key)).toBe(false);
      const h = (await a.tryLock(key))!;
      await expect(h.extend(-5)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(h.extend(MAX_TTL_MS + 1)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(a.unlock({ key } as unknown as LockHandle)).rejects.toBeInstanceOf(InvalidOptionError);
      expect(h.held).toBe(true);
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

    it('await using releases at the end of the block', async () => {
      const { a, b, key } = await setup();
      {
        await using h = await a.lock(key);
        expect(h.held).toBe(true);
        expect(await b.isLocked(key)).toBe(true);
      }
      expect(await b.isLocked(key)).toBe(false);
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

    it('waiters of one instance are served in arrival order (when the backend is FIFO)', async () => {
      const { a, c, key } = await setup();
      if (!c.fifo) return expect(c.fifo).toBe(false);
      const h = await a.lock(key, { ttl: c.longTtl });
      const order: number[] = [];
      const waiters = [0, 1, 2, 3].map(async (i) => {
        await sleep(i * 30);
        const w = await a.lock(key, { ttl: c.longTtl });
        order.push(i);
        await w.release();
      });
      await sleep(200);
      await h.release();
      await Promise.all(waiters);
      expect(order).toEqual([0, 1, 2, 3]);
    });
  });
}
