import { LockBackendError, LockReleasedError, LockService } from '@dlock/core';
import { startRedis, startTcpProxy, uniqueKey, waitFor, type RedisServer, type TcpProxy } from '@dlock/testkit';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock } from '../src/index.js';
import { adminClient } from './helpers/redis.js';

// A reply lost on the way back: the command ran on the server, then the link broke. ioredis
// sends unanswered commands again after it reconnects, so every script must be safe to run twice.
let server: RedisServer;
let admin: Redis;
let proxy: TcpProxy;
const opened: RedisLock[] = [];

beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
  await proxy?.stop();
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function throughProxy(): Promise<RedisLock> {
  proxy = await startTcpProxy({ port: server.port });
  const lock = new RedisLock({ host: '127.0.0.1', port: proxy.port });
  opened.push(lock);
  // Load every script first: a first EVALSHA is answered NOSCRIPT, and that answer must not be
  // the one the test drops.
  const warm = await lock.lock(uniqueKey());
  await warm.extend();
  await warm.release();
  return lock;
}

/** Runs `send` with replies dropped until `ranOnServer` holds, then breaks the link: ioredis re-sends. */
async function loseReply<T>(send: () => Promise<T>, ranOnServer: () => Promise<boolean>): Promise<T> {
  proxy.loseReplies();
  const pending = send();
  pending.catch(() => undefined);
  await waitFor(ranOnServer, 5_000);
  expect(proxy.cut()).toBeGreaterThan(0);
  return pending;
}

describe('RedisLock: commands re-sent after a lost reply', () => {
  it('a release that already ran reports a release, not a lost lock', async () => {
    const lock = await throughProxy();
    const key = uniqueKey();
    const h = await lock.lock(key, { ttl: 60_000 });
    await loseReply(
      () => h.release(),
      async () => (await admin.exists(lock.keysFor(key).lock)) === 0,
    );
    expect(h.held).toBe(false);
    expect(h.signal.reason).toBeInstanceOf(LockReleasedError);
    expect(await lock.isLocked(key)).toBe(false);
  });

  it('withLock whose release reply was lost resolves with the value, and fires no lost event', async () => {
    const lock = await throughProxy();
    const service = new LockService(lock);
    const lost: string[] = [];
    service.events.on('lost', (e) => lost.push(e.key));
    const key = uniqueKey();
    const value = await service.withLock(key, async () => {
      proxy.loseReplies(); // the release that follows loses its reply
      setTimeout(() => proxy.cut(), 300).unref();
      return 'done';
    });
    expect(value).toBe('done');
    expect(lost).toEqual([]);
    expect(await admin.exists(lock.keysFor(key).lock)).toBe(0);
  });

  it('a renewal that already ran keeps the lock held', async () => {
    const lock = await throughProxy();
    const key = uniqueKey();
    const h = await lock.lock(key, { ttl: 5_000 });
    await loseReply(
      () => h.extend(60_000),
      async () => (await admin.pttl(lock.keysFor(key).lock)) > 30_000,
    );
    expect(h.held).toBe(true);
    expect(h.validUntil - performance.now()).toBeGreaterThan(30_000); // the 60 s lease counts now
    await h.release();
  });

  it('an acquire that already ran returns the lock with the fencing token it was given', async () => {
    const lock = await throughProxy();
    const key = uniqueKey();
    const h = await loseReply(
      () => lock.tryLock(key, { ttl: 60_000 }),
      async () => (await admin.exists(lock.keysFor(key).lock)) === 1,
    );
    expect(h).not.toBeNull();
    expect(h!.fencingToken).toBe(BigInt((await admin.get(lock.keysFor(key).fence))!));
    expect(await admin.get(lock.keysFor(key).lock)).toBe(h!.token);
    await h!.release();
  });

  it('the release latch is short-lived, and a release of a lost lock still says so', async () => {
    const lock = await throughProxy();
    const key = uniqueKey();
    const h = await lock.lock(key, { ttl: 60_000 });
    await admin.del(lock.keysFor(key).lock); // someone removed it: a real loss
    await expect(h.release()).rejects.not.toBeInstanceOf(LockBackendError);
    expect(h.signal.reason).not.toBeInstanceOf(LockReleasedError);
    const g = await lock.lock(key, { ttl: 60_000 });
    await g.release();
    const latch = `${lock.keysFor(key).channel}:${g.token}`;
    const pttl = await admin.pttl(latch);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(lock.operationTimeout * 2);
  });
});

describe('RedisLock: an answer slower than the lease', () => {
  it('tryLock of a free key says the answer came too late (not null), and leaves the key free', async () => {
    const lock = await throughProxy();
    const key = uniqueKey();
    proxy.delay = 150; // each way: the round trip (~300 ms) outlasts the 200 ms lease
    const error = await lock.tryLock(key, { ttl: 200 }).catch((e: unknown) => e);
    proxy.delay = 0;
    expect(error).toBeInstanceOf(LockBackendError);
    expect((error as Error).message).toMatch(/answer came \d+ ms after the request, when its 200 ms lease had already run out/);
    await waitFor(async () => (await admin.exists(lock.keysFor(key).lock)) === 0, 2_000);
    const h = await lock.tryLock(key, { ttl: 10_000 });
    expect(h).not.toBeNull();
    await h!.release();
  });
});
