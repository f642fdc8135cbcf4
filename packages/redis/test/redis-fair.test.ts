import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError } from '@dlock/core';
import { uniqueKey, waitFor } from '@dlock/testkit';
import { describe, expect, it } from 'vitest';
import { RedisLock, redisLockKeys, redisLockScripts, redisWaitListKeys } from '../src/index.js';
import { redisServerPerFile } from './helpers/redis-file.js';

// The fair wait list of RedisLock (the default): order across instances, places that end, and
// what a caller that gives up leaves behind. The contract suite's fairness tests cover the order
// of live waiters; these cover the server's side of it.
const fx = redisServerPerFile();
const { open } = fx;

/** Queues `token` in `key`'s wait list as a waiter of some other process would, with a place of `placeMs`. */
async function queueForeignWaiter(key: string, token: string, placeMs: number): Promise<void> {
  const keys = redisLockKeys('dlock', key);
  const { waiters, places } = redisWaitListKeys(keys);
  const reply = await redisLockScripts.fairAcquire.run(fx.admin, [keys.lock, token, 30_000, 3_630_000, 1, placeMs, 0]);
  expect((reply as unknown[])[0]).toBe(0); // held by someone: queued, not acquired
}

describe('fair: options', () => {
  it('is on by default, and fair must be a boolean', () => {
    const client = { host: '127.0.0.1', port: fx.server.port, lazyConnect: true };
    expect(open().fair).toBe(true);
    expect(open({ fair: false }).fair).toBe(false);
    expect(() => new RedisLock(client, { fair: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
    expect(() => new RedisLock(client, { fair: 'yes' as unknown as boolean })).toThrow(/^fair must be a boolean/);
    expect(open({ maxLocalHandOvers: 4 }).fair).toBe(true);
  });
});

describe('fair: the wait list on the server', () => {
  it('a release shortens the place of the waiter it names: a dead first waiter holds up the line for the place slack, not for its long retry delay', async () => {
    const lock = open();
    const key = uniqueKey();
    const holder = (await lock.tryLock(key, { ttl: 60_000 }))!;
    await queueForeignWaiter(key, 'e'.repeat(32), 600); // told to come back in ~60 s
    const { places } = redisWaitListKeys(redisLockKeys('dlock', key));
    const before = Number(await fx.admin.zscore(places, 'e'.repeat(32)));
    const serverMs = async () => {
      const [seconds, micros] = await fx.admin.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    const releasedAfter = await serverMs();
    await holder.release();
    const releasedBefore = await serverMs();
    const shortened = Number(await fx.admin.zscore(places, 'e'.repeat(32)));
    expect(before - releasedBefore).toBeGreaterThan(55_000);
    // maxRetryDelay (1 s) plus the 2 s slack, from the release (on the server's clock, which
    // bracketed it: exact, however loaded the machine).
    expect(shortened).toBeGreaterThanOrEqual(releasedAfter + 3_000);
    expect(shortened).toBeLessThanOrEqual(releasedBefore + 3_000);
  });

  it('a free key goes to the first waiter in line: tryLock of a newcomer is refused meanwhile, and nothing of it is left', async () => {
    const lock = open();
    const key = uniqueKey();
    const holder = (await lock.tryLock(key, { ttl: 30_000 }))!;
    await queueForeignWaiter(key, 'f'.repeat(32), 20_000);
    await holder.release();
    expect(await lock.isLocked(key)).toBe(false);
    expect(await lock.tryLock(key)).toBeNull();
    const { waiters } = redisWaitListKeys(redisLockKeys('dlock', key));
    expect(await fx.admin.zrange(waiters, '0', '-1')).toEqual(['f'.repeat(32)]);
    // A caller that waits behind it is told to come back within a second, not when the first
    // one's 20 s place would end (places must not stack up behind a waiter that never comes).
    const keys = redisLockKeys('dlock', key);
    const { places } = redisWaitListKeys(keys);
    const reply = (await redisLockScripts.fairAcquire.run(fx.admin, [keys.lock, 'a'.repeat(32), 30_000, 3_630_000, 1, 3_000, 0])) as [number, number];
    expect(reply[0]).toBe(0);
    expect(reply[1]).toBeLessThanOrEqual(1_000);
    // Its place: that second plus the 3 s asked for, from now (the first one's ends within 3 s).
    expect(Number(await fx.admin.zscore(places, 'a'.repeat(32))) - Number(await fx.admin.zscore(places, 'f'.repeat(32)))).toBeLessThanOrEqual(1_100);
  });

  it('a waiter that stopped coming back loses its place when it ends, and the next one gets the key then', async () => {
    const lock = open();
    const key = uniqueKey();
    const holder = (await lock.tryLock(key, { ttl: 300 }))!;
    // A waiter of a process that died: first in line, told to come back when the holder's 300 ms
    // lease ends, with a place kept 600 ms beyond that.
    await queueForeignWaiter(key, 'd'.repeat(32), 600);
    const started = performance.now();
    const waiting = lock.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
    await sleep(100);
    await holder.release();
    const next = await waiting;
    const waited = performance.now() - started;
    expect(next.held).toBe(true);
    // Not before the dead waiter's place ended (~900 ms after it was queued), and soon after.
    expect(waited).toBeGreaterThanOrEqual(600);
    expect(waited).toBeLessThan(5_000);
    const { waiters, places } = redisWaitListKeys(redisLockKeys('dlock', key));
    expect(await fx.admin.zrange(waiters, '0', '-1')).toEqual([]);
    expect(await fx.admin.zrange(places, '0', '-1')).toEqual([]);
    await next.release();
  });

  it('a first waiter that gives up passes the turn to the next one in another instance at once', async () => {
    const [a, b, c] = [open(), open(), open()];
    const key = uniqueKey();
    const holder = (await c.tryLock(key, { ttl: 30_000 }))!;
    const quitter = new AbortController();
    const first = a.lock(key, { ttl: 30_000, signal: quitter.signal });
    first.catch(() => undefined);
    await sleep(100);
    const second = b.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
    await sleep(100);
    await holder.release();
    // The holder's release woke the first waiter (a's); it gives up before trying.
    quitter.abort(new Error('gave up'));
    await expect(first).rejects.toThrow('gave up');
    const started = performance.now();
    const next = await second;
    expect(next.held).toBe(true);
    // Told by the departure: without it the waiter would sleep until the holder's 30 s lease
    // would have ended (it was told so, and its subscriber is live).
    expect(performance.now() - started).toBeLessThan(5_000);
    await next.release();
  });

  it('a releasing holder hands the lock to a waiter of its own only when that waiter is first in line', async () => {
    const [a, b] = [open(), open()];
    const key = uniqueKey();
    const holder = (await a.tryLock(key, { ttl: 30_000 }))!;
    const order: string[] = [];
    const take = (lock: RedisLock, name: string) =>
      lock.lock(key, { ttl: 30_000, waitTimeout: 10_000 }).then(async (h) => {
        order.push(`${name}:${h.fencingToken - holder.fencingToken}`);
        await sleep(5);
        await h.release();
      });
    const waiters = [take(b, 'b1')];
    await sleep(50);
    waiters.push(take(a, 'a1'));
    await sleep(50);
    waiters.push(take(a, 'a2'));
    await sleep(50);
    await holder.release();
    await Promise.all(waiters);
    // b1 came first: a's release goes to it, not to a1; then a1 and a2 in turn (a1 hands to a2).
    expect(order).toEqual(['b1:1', 'a1:2', 'a2:3']);
  });

  it('close() lets its waiters leave the line before it closes the connection: nothing of them is left', async () => {
    const holderLock = open();
    const waiting = new RedisLock({ host: fx.server.host, port: fx.server.port });
    const key = uniqueKey();
    const holder = (await holderLock.tryLock(key, { ttl: 30_000 }))!;
    const quitter = new AbortController();
    const outcomes = [
      waiting.lock(key, { ttl: 30_000 }).catch((e: unknown) => e),
      waiting.lock(key, { ttl: 30_000, signal: quitter.signal }).catch((e: unknown) => e),
    ];
    const { waiters, places } = redisWaitListKeys(redisLockKeys('dlock', key));
    await waitFor(async () => (await fx.admin.zcard(waiters)) === 2, 2_000);
    quitter.abort(new Error('gave up')); // leaves just before close()
    await waiting.close();
    // Gone when close() resolves, not when the places would expire (seconds later).
    expect(await fx.admin.zrange(waiters, '0', '-1')).toEqual([]);
    expect(await fx.admin.zrange(places, '0', '-1')).toEqual([]);
    expect((await outcomes[0]) instanceof Error).toBe(true);
    expect(String(await outcomes[1])).toContain('gave up');
    await holder.release();
  });

  it('wait list and places expire with the last place: a key nobody waits for leaves no sets behind', async () => {
    const [a, b] = [open(), open()];
    const key = uniqueKey();
    const holder = (await a.tryLock(key, { ttl: 30_000 }))!;
    const waiting = b.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
    const { waiters, places } = redisWaitListKeys(redisLockKeys('dlock', key));
    await waitFor(async () => (await fx.admin.zcard(waiters)) === 1, 2_000);
    const pttl = await fx.admin.pttl(places);
    // Kept for the holder's lease plus the place's slack, not forever.
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000 + 10_000);
    await holder.release();
    await (await waiting).release();
    expect(await fx.admin.exists(waiters, places)).toBe(0);
  });
  it('the lock value says who may take the key: plain while nobody waits (released as release.lua does), marked once someone does, kept for the first waiter after the release', async () => {
    const lock = open();
    const key = uniqueKey();
    const { lock: lockKey } = redisLockKeys('dlock', key);
    const alone = (await lock.tryLock(key, { ttl: 30_000 }))!;
    expect(await fx.admin.get(lockKey)).toBe(alone.token);
    await alone.release();
    expect(await fx.admin.exists(lockKey)).toBe(0);

    const holder = (await lock.tryLock(key, { ttl: 30_000 }))!;
    await queueForeignWaiter(key, 'c'.repeat(32), 20_000);
    expect(await fx.admin.get(lockKey)).toBe(`${holder.token}+`);
    expect(await fx.admin.pttl(lockKey)).toBeGreaterThan(25_000); // the lease is kept
    await lock.renew(holder, 30_000); // a marked holder still renews
    await holder.release();
    expect(await fx.admin.get(lockKey)).toBe(`~${'c'.repeat(32)}`);
    // Kept until the first waiter's (shortened) place ends: maxRetryDelay + 2 s.
    expect(await fx.admin.pttl(lockKey)).toBeLessThanOrEqual(3_000);
    expect(await lock.inspect(key)).toBeNull();
    expect(await lock.tryLock(key)).toBeNull();
    // The first waiter comes (a re-attempt, with its place) and takes it.
    const keys = redisLockKeys('dlock', key);
    const { waiters, places } = redisWaitListKeys(keys);
    const reply = (await redisLockScripts.fairAcquire.run(fx.admin, [keys.lock, 'c'.repeat(32), 30_000, 3_630_000, 1, 3_000, 1])) as [number, unknown];
    expect(reply[0]).toBe(1);
    expect(await fx.admin.get(lockKey)).toBe('c'.repeat(32)); // nobody else waits: unmarked
    expect(await fx.admin.exists(waiters, places)).toBe(0);
  });
});
