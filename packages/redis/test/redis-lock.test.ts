import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError, LockLostError, LockService } from '@dlock/core';
import { uniqueKey, waitFor } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { clusterSlot } from '../src/cluster-slot.js';
import { RedisLock, redisLockKeys, redisLockScripts } from '../src/index.js';
import { redisServerPerFile } from './helpers/redis-file.js';
import { adminClient } from './helpers/redis.js';

// RedisLock specifics beyond the shared contract, against one real redis-fx.server.
const fx = redisServerPerFile();
const { open } = fx;

function userClient(options: { keyPrefix?: string } = {}): Redis {
  const client = new Redis({ host: fx.server.host, port: fx.server.port, ...options });
  fx.cleanup(() => client.disconnect());
  return client;
}

describe('options', () => {
  it('rejects a bad prefix, operationTimeout, fenceRetention or client with InvalidOptionError before connecting', () => {
    const client = { host: '127.0.0.1', port: fx.server.port, lazyConnect: true };
    expect(() => new RedisLock(client, { prefix: 'a{b' })).toThrow(InvalidOptionError);
    expect(() => new RedisLock(client, { prefix: 'a}b' })).toThrow(/prefix must be a string without/);
    expect(() => new RedisLock(client, { prefix: 5 as unknown as string })).toThrow(InvalidOptionError);
    for (const bad of [0, -1, 1.5, Number.NaN, '100']) {
      expect(() => new RedisLock(client, { operationTimeout: bad as number })).toThrow(/^operationTimeout must be/);
      expect(() => new RedisLock(client, { fenceRetention: bad as number })).toThrow(/^fenceRetention must be/);
    }
    expect(() => new RedisLock(42 as unknown as string)).toThrow(InvalidOptionError);
    expect(() => new RedisLock(client, null as unknown as object)).toThrow(InvalidOptionError);
  });

  it('a URL or options create a client that close() closes; a given client stays open', async () => {
    const fromUrl = new RedisLock(fx.server.url);
    const given = userClient();
    const onGiven = new RedisLock(given);
    const key = uniqueKey();
    const h = (await fromUrl.tryLock(key))!;
    expect(await onGiven.isLocked(key)).toBe(true);
    await h.release();
    await fromUrl.close();
    await onGiven.close();
    await waitFor(() => fromUrl.client.status === 'end', 1_000);
    expect(await given.ping()).toBe('PONG');
  });
});

describe('names and wire format', () => {
  it('keys, fence and channel share one hash tag, also for keys with braces and percent signs', () => {
    const tricky = ['plain', 'a}b', '}', '{', '{}', '}{', 'a{b}c', '%7D', '%', 'ключ 🔒', 'x'.repeat(1024)];
    const names = new Set<string>();
    for (const key of tricky) {
      const k = redisLockKeys('dlock', key);
      const slot = clusterSlot(k.lock);
      expect(clusterSlot(k.fence)).toBe(slot);
      expect(clusterSlot(k.channel)).toBe(slot);
      // The tag is the whole (escaped) key: it ends exactly at our closing brace.
      expect(k.lock.indexOf('}', k.lock.indexOf('{'))).toBe(k.lock.length - 1);
      names.add(k.lock);
    }
    expect(names.size).toBe(tricky.length);
    // One-to-one: the escaped form of one key is never another key's name.
    expect(redisLockKeys('p', '%7D').lock).not.toBe(redisLockKeys('p', '}').lock);
    expect(redisLockKeys('dlock', 'device:42')).toEqual({
      lock: 'dlock:{device:42}',
      fence: 'dlock:{device:42}:fence',
      channel: 'dlock:{device:42}:released',
    });
  });

  it('the server holds the token under the lock key and the fencing token in the fence counter', async () => {
    const lock = open({ prefix: 'wire' });
    const key = uniqueKey();
    const names = redisLockKeys('wire', key);
    const h = (await lock.tryLock(key, { ttl: 5_000 }))!;
    expect(await fx.admin.get(names.lock)).toBe(h.token);
    expect(BigInt((await fx.admin.get(names.fence))!)).toBe(h.fencingToken);
    const pttl = await fx.admin.pttl(names.lock);
    expect(pttl).toBeGreaterThan(4_000);
    expect(pttl).toBeLessThanOrEqual(5_000);
    // The counter is kept for the lease plus the retention (one hour by default).
    const fencePttl = await fx.admin.pttl(names.fence);
    expect(fencePttl).toBeGreaterThan(5_000 + 3_600_000 - 1_000);
    expect(fencePttl).toBeLessThanOrEqual(5_000 + 3_600_000);

    const sub = adminClient(fx.server.port);
    fx.cleanup(() => sub.disconnect());
    const messages: string[] = [];
    sub.on('message', (channel: string) => messages.push(channel));
    await sub.subscribe(names.channel);
    await h.release();
    await waitFor(() => messages.length === 1, 1_000);
    expect(messages).toEqual([names.channel]);
    expect(await fx.admin.exists(names.lock)).toBe(0);
  });

  it('a fresh fence counter starts at the server clock in microseconds', async () => {
    const lock = open();
    const [seconds] = await fx.admin.time();
    const h = (await lock.tryLock(uniqueKey()))!;
    const floor = BigInt(seconds!) * 1_000_000n;
    expect(h.fencingToken).toBeGreaterThan(floor);
    expect(h.fencingToken).toBeLessThan(floor + 60_000_000n);
    await h.release();
  });

  it('the fence counter lives for the lease plus fenceRetention; renewals keep it; after it expires tokens still increase', async () => {
    const lock = open({ fenceRetention: 100 });
    const key = uniqueKey();
    const names = redisLockKeys('dlock', key);
    const first = (await lock.tryLock(key, { ttl: 100 }))!;
    await first.release();
    const second = (await lock.tryLock(key, { ttl: 100 }))!;
    expect(second.fencingToken).toBe(first.fencingToken + 1n); // counted, not reseeded
    await second.extend(5_000);
    const kept = await fx.admin.pttl(names.fence);
    expect(kept).toBeGreaterThan(4_000);
    expect(kept).toBeLessThanOrEqual(5_100);
    await second.release();
    await fx.admin.pexpire(names.fence, 50); // as if 5.1 s had passed
    await waitFor(async () => (await fx.admin.exists(names.fence)) === 0, 2_000);
    const third = (await lock.tryLock(key, { ttl: 100 }))!;
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    await third.release();
  });

  it('fencing tokens stay exact above 2^53', async () => {
    const lock = open();
    const key = uniqueKey();
    await fx.admin.set(redisLockKeys('dlock', key).fence, '9007199254740993');
    const h = (await lock.tryLock(key))!;
    expect(h.fencingToken).toBe(9007199254740994n);
    expect((await lock.inspect(key))?.fencingToken).toBe(9007199254740994n);
    await h.release();
  });

  it('prefixes separate lock namespaces; an ioredis keyPrefix is honoured', async () => {
    const key = uniqueKey();
    const a = open({ prefix: 'app-a' });
    const b = open({ prefix: 'app-b' });
    const ha = (await a.tryLock(key))!;
    const hb = await b.tryLock(key);
    expect(hb).not.toBeNull();
    const prefixed = new RedisLock(userClient({ keyPrefix: 'tenant1:' }));
    fx.cleanup(() => prefixed.close());
    const hp = (await prefixed.tryLock(key))!;
    expect(await fx.admin.get(`tenant1:dlock:{${key}}`)).toBe(hp.token);
    const waiter = prefixed.lock(key, { waitTimeout: 2_000 });
    await sleep(50);
    await hp.release(); // published on the unprefixed channel the waiter subscribed to
    const next = await waiter;
    expect(next.held).toBe(true);
    await Promise.all([ha.release(), hb!.release(), next.release()]);
  });
});

describe('scripts', () => {
  it('falls back to EVAL after SCRIPT FLUSH, for single calls and for the watchdog pipeline', async () => {
    const lock = open();
    const service = new LockService(lock, { ttl: 300 });
    const key = uniqueKey();
    await fx.admin.script('FLUSH');
    const h = (await lock.tryLock(key, { ttl: 300 }))!;
    expect(h).not.toBeNull();
    service.autoRenew(h);
    await fx.admin.script('FLUSH');
    await sleep(700); // two watchdog ticks against an empty script cache
    expect(h.held).toBe(true);
    expect(await fx.admin.script('EXISTS', redisLockScripts.renew.sha)).toEqual([1]);
    await h.release();
  });

  it('an acquire resent with the holder token (a reconnect resend) returns the same fence, lease untouched', async () => {
    const lock = open();
    const key = uniqueKey();
    const names = redisLockKeys('dlock', key);
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    const again = await fx.admin.eval(redisLockScripts.acquire.source, 2, names.lock, names.fence, h.token, 60_000, 3_660_000);
    expect(again).toEqual([1, String(h.fencingToken)]);
    expect(await fx.admin.pttl(names.lock)).toBeLessThanOrEqual(10_000);
    const other = await fx.admin.eval(redisLockScripts.acquire.source, 2, names.lock, names.fence, 'f'.repeat(32), 1_000, 3_601_000);
    expect((other as [number, number])[0]).toBe(0);
    await h.release();
  });
});

describe('acquire script, hand-over mode (holder token as 4th ARGV)', () => {
  it('takes the lock over only from that holder, with a new fence; a resend gets the same fence; others get {0, pttl}', async () => {
    const lock = open();
    const key = uniqueKey();
    const names = redisLockKeys('dlock', key);
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    const next = 'a'.repeat(32);
    const run = (token: string, from: string) =>
      fx.admin.eval(redisLockScripts.acquire.source, 2, names.lock, names.fence, token, 20_000, 3_620_000, from) as Promise<[number, unknown]>;
    const wrong = await run(next, 'b'.repeat(32));
    expect(wrong[0]).toBe(0);
    expect(await fx.admin.get(names.lock)).toBe(h.token); // nothing changed
    const taken = await run(next, h.token);
    expect(taken[0]).toBe(1);
    expect(BigInt(String(taken[1]))).toBe(h.fencingToken + 1n);
    expect(await fx.admin.get(names.lock)).toBe(next);
    expect(await fx.admin.pttl(names.lock)).toBeGreaterThan(15_000);
    const resent = await run(next, h.token);
    expect(resent).toEqual([1, String(taken[1])]);
    await fx.admin.del(names.lock);
  });
});

describe('waiting', () => {
  it('a key waited on again soon after its last waiter left reuses the subscription; it is dropped after maxRetryDelay', async () => {
    const client = userClient();
    const calls: string[] = [];
    const duplicate = client.duplicate.bind(client);
    (client as unknown as { duplicate: () => Redis }).duplicate = () => {
      const sub = duplicate();
      const subscribe = sub.subscribe.bind(sub) as (...channels: string[]) => Promise<unknown>;
      const unsubscribe = sub.unsubscribe.bind(sub) as (...channels: string[]) => Promise<unknown>;
      Object.assign(sub, {
        subscribe: (...channels: string[]) => (calls.push('subscribe'), subscribe(...channels)),
        unsubscribe: (...channels: string[]) => (calls.push('unsubscribe'), unsubscribe(...channels)),
      });
      return sub;
    };
    // maxRetryDelay 1 s: the idle gap between two rounds (a few round trips, longer on a loaded
    // machine) stays well inside it, so the subscription must be reused.
    const waiter = new RedisLock(client, { maxRetryDelay: 1_000 });
    fx.cleanup(() => waiter.close());
    const holder = open();
    const key = uniqueKey();
    for (let round = 0; round < 3; round++) {
      const held = (await holder.tryLock(key))!;
      const waiting = waiter.lock(key, { waitTimeout: 2_000 });
      await sleep(30);
      await held.release();
      await (await waiting).release();
    }
    expect(calls).toEqual(['subscribe']); // one subscription for three waits
    await waitFor(() => calls.length === 2, 3_000);
    expect(calls).toEqual(['subscribe', 'unsubscribe']);
  });

  it.each([
    { fair: true, script: redisLockScripts.fairAcquire },
    { fair: false, script: redisLockScripts.acquire },
  ])('one release wakes one waiter of a process, not all of them; own releases skip the pub/sub hop (fair: $fair)', async ({ fair, script }) => {
    const holderLock = open();
    const client = userClient();
    // Hand-overs off: this is about wake-ups (hand-overs are tested below).
    const waitersLock = new RedisLock(client, { fair, maxLocalHandOvers: 0 });
    fx.cleanup(() => waitersLock.close());
    // Count this instance's acquire attempts as they leave the client.
    let attempts = 0;
    const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { evalsha: typeof evalsha }).evalsha = (...args: unknown[]) => {
      if (args[0] === script.sha) attempts++;
      return evalsha(...args);
    };
    const key = uniqueKey();
    const holder = (await holderLock.tryLock(key, { ttl: 30_000 }))!;
    const order: number[] = [];
    const waiters = Array.from({ length: 10 }, async (_, i) => {
      const h = await waitersLock.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
      order.push(i);
      return h;
    });
    // Every waiter made its attempt and its re-check after subscribing (2 each) and sleeps now:
    // waited for, not assumed after a fixed time; then a moment for the last replies to land.
    await waitFor(() => attempts === 20, 5_000);
    await sleep(100);
    const before = attempts;
    await holder.release();
    await waitFor(() => order.length === 1, 1_000);
    await sleep(200);
    expect(attempts - before).toBe(1);
    expect(order).toEqual([0]);
    // Hand the key down the queue inside the instance: each release wakes the next waiter
    // directly, and the instance skips its own release message (no second, wasted attempt).
    const handDown = attempts;
    for (let i = 0; i < 10; i++) {
      await waitFor(() => order.length === i + 1, 2_000);
      await (await waiters[order[i]!]!).release();
    }
    await sleep(100);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(attempts - handDown).toBe(9);
  });

  it('fair: false: unlock() hands the lock to a waiter of the same instance in one script; after maxLocalHandOvers a real release lets another process in', async () => {
    const client = userClient();
    const local = new RedisLock(client, { fair: false, maxLocalHandOvers: 4 });
    fx.cleanup(() => local.close());
    const remote = open({ fair: false });
    const sent: string[] = [];
    const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { evalsha: typeof evalsha }).evalsha = (...args: unknown[]) => {
      // A hand-over is the acquire script with the current holder's token as a 4th ARGV.
      if (args[0] === redisLockScripts.acquire.sha) sent.push(args.length === 8 ? 'transfer' : 'acquire');
      if (args[0] === redisLockScripts.release.sha) sent.push('release');
      return evalsha(...args);
    };
    const key = uniqueKey();
    const names = redisLockKeys('dlock', key);
    const holder = (await local.tryLock(key, { ttl: 30_000 }))!;
    const order: string[] = [];
    const fences: bigint[] = [holder.fencingToken];
    const run = (lock: RedisLock, name: string) =>
      lock.lock(key, { ttl: 20_000, waitTimeout: 10_000 }).then(async (h) => {
        order.push(name);
        fences.push(h.fencingToken);
        expect(await fx.admin.get(names.lock)).toBe(h.token);
        const pttl = await fx.admin.pttl(names.lock);
        expect(pttl).toBeGreaterThan(15_000); // its own TTL, not what was left of the previous one
        expect(pttl).toBeLessThanOrEqual(20_000);
        await h.release();
      });
    const locals = Array.from({ length: 6 }, (_, i) => run(local, `local${i}`));
    // The holder's acquire, then each local waiter's attempt and re-check after subscribing
    // (2 each) before the release: waited for, not assumed after a fixed time.
    await waitFor(() => sent.filter((s) => s === 'acquire').length === 1 + 6 * 2, 5_000);
    const remoteWaiter = run(remote, 'remote');
    await sleep(100);
    sent.length = 0;
    await holder.release();
    await Promise.all([...locals, remoteWaiter]);
    // Fencing tokens strictly increase across hand-overs and acquires alike.
    for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
    // 4 hand-overs (no release, no acquire, nothing published), then a real release.
    expect(sent.slice(0, 5)).toEqual(['transfer', 'transfer', 'transfer', 'transfer', 'release']);
    expect(order.slice(0, 4)).toEqual(['local0', 'local1', 'local2', 'local3']);
    expect(order).toContain('remote');
    expect(order.filter((n) => n.startsWith('local'))).toEqual(['local0', 'local1', 'local2', 'local3', 'local4', 'local5']);
    expect(await fx.admin.exists(names.lock)).toBe(0);
  });

  it('fair and fair: false instances on one key: a holder a fair waiter marked releases normally, and the fair waiter gets the key at once', async () => {
    const unfair = open({ fair: false });
    const fair = open();
    const key = uniqueKey();
    const holder = (await unfair.tryLock(key, { ttl: 30_000 }))!;
    const waiting = fair.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
    await waitFor(async () => (await fx.admin.get(redisLockKeys('dlock', key).lock)) === `${holder.token}+`, 2_000);
    await unfair.renew(holder, 30_000);
    const released = performance.now();
    await holder.release();
    const next = await waiting;
    // Woken by the release message, not by the 30 s lease it was told to wait for.
    expect(performance.now() - released).toBeLessThan(2_000);
    await next.release();
  });

  it('a lock set without expiry by someone else: inspect says ttl -1, and waiters poll at maxRetryDelay', async () => {
    const lock = open({ maxRetryDelay: 200 });
    const key = uniqueKey();
    const names = redisLockKeys('dlock', key);
    await fx.admin.set(names.lock, 'foreign-holder-token');
    expect(await lock.inspect(key)).toEqual({ key, holder: 'foreign-', ttlRemaining: -1, fencingToken: 0n });
    const waiting = lock.lock(key, { waitTimeout: 3_000 });
    await sleep(100);
    await fx.admin.del(names.lock); // no release message: only polling can notice
    const started = performance.now();
    const h = await waiting;
    expect(performance.now() - started).toBeLessThan(600);
    await h.release();
  });
});

describe('watchdog', () => {
  it('a lock deleted from outside is reported lost through handle.signal', async () => {
    const lock = open();
    const service = new LockService(lock);
    const key = uniqueKey();
    const h = (await lock.tryLock(key, { ttl: 600 }))!;
    service.autoRenew(h);
    await sleep(250);
    await fx.admin.del(redisLockKeys('dlock', key).lock);
    await waitFor(() => h.signal.aborted, 1_000);
    expect(h.signal.reason).toBeInstanceOf(LockLostError);
    expect((h.signal.reason as Error).message).toMatch(/watchdog found the lock gone/);
  });

  it('a lock expired or taken over from outside is reported lost, and the new holder keeps it', async () => {
    const lock = open();
    const service = new LockService(lock);
    const [k1, k2] = [uniqueKey(), uniqueKey()];
    const expired = (await lock.tryLock(k1, { ttl: 900 }))!;
    const taken = (await lock.tryLock(k2, { ttl: 900 }))!;
    service.autoRenew(expired);
    service.autoRenew(taken);
    await fx.admin.pexpire(redisLockKeys('dlock', k1).lock, 1);
    await fx.admin.set(redisLockKeys('dlock', k2).lock, 'someone-else', 'PX', 60_000);
    await waitFor(() => expired.signal.aborted && taken.signal.aborted, 1_500);
    expect(expired.signal.reason).toBeInstanceOf(LockLostError);
    expect(taken.signal.reason).toBeInstanceOf(LockLostError);
    expect(await fx.admin.get(redisLockKeys('dlock', k2).lock)).toBe('someone-else');
  });
});
