import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSlot } from '../src/cluster-slot.js';
import { claimLatchKey } from '../src/claims/keys.js';
import { claimScripts } from '../src/claims/scripts.js';
import { RedisLock, RedisReadWriteLock, RedisSemaphore, redisClaimKeys } from '../src/index.js';
import { adminClient, recordPipelines } from './helpers/redis.js';

// What the contract suites cannot see: the key layout, places left by callers that died, one
// fence counter across primitives, the release latch, renewals batched per tick.
let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

const options = () => ({ host: server.host, port: server.port });

describe('RedisReadWriteLock and RedisSemaphore on Redis', () => {
  it('every name of a key shares one hash tag (one Cluster slot), for awkward keys too', () => {
    for (const key of ['plain', 'a}b', '}x', '{', '{}', 'a{b}c', 'ключ 🔒', uniqueKey()]) {
      const names = redisClaimKeys('dlock', key);
      const slots = new Set(Object.values(names).map((name) => clusterSlot(name)));
      expect(slots.size, key).toBe(1);
      expect(clusterSlot(claimLatchKey(names, 'f'.repeat(32)))).toBe(clusterSlot(names.holders));
    }
    const rw = new RedisReadWriteLock(options(), { prefix: 'app' });
    expect(rw.keysFor('k')).toEqual({
      holders: 'app:{k}:holders',
      queue: 'app:{k}:queue',
      claims: 'app:{k}:claims',
      fence: 'app:{k}:fence',
      channel: 'app:{k}:released',
    });
    return rw.close();
  });

  it("a waiter that died leaves a place that expires: the readers behind it get in, and it is purged", async () => {
    const rw = new RedisReadWriteLock(options());
    try {
      const key = uniqueKey();
      const k = rw.keysFor(key);
      // A holder with a 200 ms lease, and a writer queued behind it that then vanished (its
      // place kept 300 ms past the holder's lease), both written by the script as a client would.
      const holder = await claimScripts.acquire.run(admin, [k.holders, k.queue, k.claims, k.fence, 'a'.repeat(32), 200, 's', 0, 0, 0, 300, 60_000, k.channel]);
      expect(holder.outcome).toBe('admitted');
      const gone = await claimScripts.acquire.run(admin, [k.holders, k.queue, k.claims, k.fence, 'b'.repeat(32), 60_000, 'x', 0, 0, 1, 300, 60_000, k.channel]);
      expect(gone).toEqual({ outcome: 'wait', retryAfter: expect.any(Number) });
      expect(await rw.inspect(key)).toMatchObject({ readers: 1, writer: false, waiting: 1 });
      expect(await rw.tryReadLock(key)).toBeNull(); // the queued writer holds readers back
      const startedAt = performance.now();
      const r = await rw.readLock(key, { ttl: 10_000, waitTimeout: 5_000 });
      const took = performance.now() - startedAt;
      expect(took).toBeGreaterThan(350); // the lease (200) and then the place (300) ran out
      expect(took).toBeLessThan(2_500);
      expect(await admin.zcard(k.queue)).toBe(0);
      expect(await admin.hexists(k.claims, 'b'.repeat(32))).toBe(0);
      expect(await rw.inspect(key)).toMatchObject({ readers: 1, writer: false, waiting: 0 });
      await r.release();
      expect(await admin.exists(k.holders, k.queue, k.claims)).toBe(0);
    } finally {
      await rw.close();
    }
  });

  it('the names of a key expire after its last lease or place, and a caller that gives up leaves its place', async () => {
    const rw = new RedisReadWriteLock(options());
    try {
      const key = uniqueKey();
      const k = rw.keysFor(key);
      const w = await rw.writeLock(key, { ttl: 30_000 });
      const waiting = rw.readLock(key, { ttl: 30_000, waitTimeout: 200 }).catch((e: unknown) => e);
      await sleep(50);
      for (const name of [k.holders, k.queue, k.claims]) {
        const pttl = await admin.pttl(name);
        expect(pttl, name).toBeGreaterThan(20_000);
        expect(pttl, name).toBeLessThanOrEqual(30_000 + 6_100 + 1_000);
      }
      await waiting;
      await waitFor(async () => (await admin.zcard(k.queue)) === 0, 1_000); // it left on timeout (best effort, not awaited)
      await w.release();
    } finally {
      await rw.close();
    }
  });

  it('fencing tokens increase across readers, writers, permits and the mutex of one key, even after the counter expired', async () => {
    const rw = new RedisReadWriteLock(options());
    const sem = new RedisSemaphore(options());
    const mutex = new RedisLock(options());
    try {
      const key = uniqueKey();
      const tokens: bigint[] = [];
      const take = async (h: Promise<{ fencingToken: bigint; release(): Promise<void> }>) => {
        const handle = await h;
        tokens.push(handle.fencingToken);
        await handle.release();
      };
      await take(rw.readLock(key));
      await take(rw.writeLock(key));
      await take(sem.acquire(key, { limit: 2 }));
      await take(mutex.lock(key));
      await take(rw.readLock(key));
      await admin.del(rw.keysFor(key).fence); // as if the retention ran out
      await take(sem.acquire(key, { limit: 2, permits: 2 }));
      await take(rw.writeLock(key));
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!, `token ${i}`).toBeGreaterThan(tokens[i - 1]!);
      expect(await admin.pttl(rw.keysFor(key).fence)).toBeGreaterThan(3_600_000);
    } finally {
      await Promise.all([rw.close(), sem.close(), mutex.close()]);
    }
  });

  it('a release sent twice (a copy re-sent after a reconnect) reports the release both times, and names the waiter it admits once', async () => {
    const sem = new RedisSemaphore(options());
    const listener = admin.duplicate();
    try {
      const key = uniqueKey();
      const k = sem.keysFor(key);
      const h = await sem.acquire(key, { limit: 3, permits: 2 });
      const messages: string[] = [];
      listener.on('message', (_channel: string, message: string) => messages.push(message));
      await listener.subscribe(k.channel);
      // A waiter for 2 of the 3 permits: the release admits it, and names it.
      const waiter = 'd'.repeat(32);
      expect(await claimScripts.acquire.run(admin, [k.holders, k.queue, k.claims, k.fence, waiter, 60_000, 'p', 2, 3, 1, 6_000, 60_000, k.channel])).toMatchObject({ outcome: 'wait' });
      const args = [k.holders, k.queue, k.claims, claimLatchKey(k, h.token), h.token, k.channel, 'm', 4_000] as const;
      expect(await claimScripts.release.run(admin, args)).toEqual({ outcome: 'released', admitted: [waiter] });
      expect(await claimScripts.release.run(admin, args)).toEqual({ outcome: 'released-before' });
      const other = 'c'.repeat(32);
      expect(await claimScripts.release.run(admin, [k.holders, k.queue, k.claims, claimLatchKey(k, other), other, k.channel, 'm', 4_000])).toEqual({ outcome: 'not-held' });
      await sleep(50);
      expect(messages).toEqual([`m ${waiter}`]);
      expect(await claimScripts.leave.run(admin, [k.holders, k.queue, k.claims, waiter, k.channel, 'm'])).toEqual({ left: true, admitted: [] });
      expect(await sem.inspect(key)).toBeNull();
    } finally {
      listener.disconnect();
      await sem.close();
    }
  });

  it('renews every held claim of a watchdog tick in one pipeline', async () => {
    const client = new Redis(options());
    const sem = new RedisSemaphore(client);
    const rw = new RedisReadWriteLock(client);
    try {
      const sizes = recordPipelines(client);
      const key = uniqueKey();
      const permits = await Promise.all(Array.from({ length: 6 }, (_, i) => sem.acquire(`${key}:${i % 2}`, { limit: 3, ttl: 600 })));
      const reads = await Promise.all(Array.from({ length: 4 }, () => rw.readLock(key, { ttl: 600 })));
      const stops = [...permits.map((h) => sem.autoRenew(h)), ...reads.map((h) => rw.autoRenew(h))];
      await sleep(900); // ticks at ~200, ~400, ~600, ~800 ms; the 600 ms leases would have run out
      stops.forEach((stop) => stop());
      expect([...permits, ...reads].every((h) => h.held)).toBe(true);
      expect(sizes.filter((n) => n === 6).length).toBeGreaterThanOrEqual(2);
      expect(sizes.filter((n) => n === 4).length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(6);
      await Promise.all([...permits, ...reads].map((h) => h.release()));
    } finally {
      await Promise.all([sem.close(), rw.close()]);
      client.disconnect();
    }
  });

  it('rejects unknown and bad options before connecting', () => {
    expect(() => new RedisReadWriteLock(options(), { prefix: 'a{b' })).toThrow(/prefix/);
    expect(() => new RedisSemaphore(options(), { maxLocalHandOvers: 2 } as never)).toThrow(/maxLocalHandOvers/);
    expect(() => new RedisSemaphore(options(), { operationTimeout: 0 })).toThrow(/operationTimeout/);
    expect(() => new RedisReadWriteLock(options(), { prefx: 'x' } as never)).toThrow(/prefix/);
  });
});
