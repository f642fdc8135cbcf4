import { setTimeout as sleep } from 'node:timers/promises';
import { LockLostError, LockService, type CoalesceOptions, type LockEventOf } from '@dlock/core';
import { startRedis, uniqueKey, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock } from '../src/index.js';

// Coalescing with hand-over over a real redis-server: what Redis sees (fence counter = backend
// acquires), renewals across hand-overs, losses, and other instances ("processes") getting a turn.
let server: RedisServer;
/** Reads and deletes keys behind the locks' back. */
let adminClient: Redis;
const admin = () => adminClient;
const cleanup: Array<() => Promise<unknown> | void> = [];

beforeAll(async () => {
  server = await startRedis();
  adminClient = new Redis({ host: server.host, port: server.port });
});
afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((f) => f()));
});
afterAll(async () => {
  adminClient?.disconnect();
  await server?.stop();
});

function open(coalesce?: boolean | CoalesceOptions, ttl?: number): { lock: RedisLock; service: LockService } {
  const lock = new RedisLock({ host: server.host, port: server.port });
  cleanup.push(() => lock.close());
  const options = ttl === undefined ? {} : { ttl };
  return { lock, service: new LockService(lock, coalesce === undefined ? options : { ...options, coalesce }) };
}

/** The key's fence counter in Redis: it rises by one per backend acquire. */
async function fence(lock: RedisLock, key: string): Promise<bigint> {
  // A missing counter starts from the server's clock: take the key once so that it exists.
  if ((await admin().exists(lock.keysFor(key).fence)) === 0) await (await lock.lock(key)).release();
  return BigInt((await admin().get(lock.keysFor(key).fence)) ?? '0');
}

describe('LockService coalesce with hand-over (Redis)', () => {
  it('runs many same-key callers one at a time on a few backend acquires', async () => {
    const { lock, service } = open({ handOver: true });
    const key = uniqueKey();
    const acquired: Array<LockEventOf<'acquired'>> = [];
    service.events.on('acquired', (e) => acquired.push(e));
    let inside = 0;
    let maxInside = 0;
    const before = await fence(lock, key);
    await Promise.all(
      Array.from({ length: 40 }, () =>
        service.withLock(key, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await sleep(0);
          inside--;
        }),
      ),
    );
    const backendAcquires = acquired.filter((e) => !e.handedOver).length;
    expect(maxInside).toBe(1);
    expect(acquired).toHaveLength(40);
    expect(BigInt(backendAcquires)).toBe((await fence(lock, key)) - before);
    expect(backendAcquires).toBeGreaterThanOrEqual(3); // at most 16 hand-overs per lease
    expect(backendAcquires).toBeLessThan(10);
    expect(await admin().exists(lock.keysFor(key).lock)).toBe(0);
  });

  it('gives every caller that reads the fencing token a token of its own from Redis', async () => {
    const { lock, service } = open({ handOver: true });
    const key = uniqueKey();
    const before = await fence(lock, key);
    const tokens = await Promise.all(Array.from({ length: 8 }, () => service.withLock(key, (h) => h.fencingToken)));
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    expect(tokens[0]!).toBeGreaterThan(before);
    expect((await fence(lock, key)) - before).toBe(8n);
  });

  it('keeps renewing one lease across hand-overs longer than its ttl', async () => {
    const { lock, service } = open({ handOver: true, maxHandOvers: 100, maxHandOverMs: 10_000 }, 300);
    const key = uniqueKey();
    const before = await fence(lock, key);
    const held = await Promise.all(
      Array.from({ length: 10 }, () =>
        service.withLock(key, async (h) => {
          await sleep(60);
          return h.held && h.validUntil > performance.now();
        }),
      ),
    );
    expect(held).toEqual(Array.from({ length: 10 }, () => true)); // 600+ ms on a 300 ms lease
    expect((await fence(lock, key)) - before).toBe(1n);
  });

  it('a lease lost during a handed-over turn fails that turn; the next caller acquires anew', async () => {
    const { lock, service } = open({ handOver: true, maxHandOverMs: 10_000 }, 300);
    const key = uniqueKey();
    const before = await fence(lock, key);
    const first = service.withLock(key, () => 'first');
    const second = service
      .withLock(key, async (h) => {
        await admin().del(lock.keysFor(key).lock); // taken away behind our back
        await sleep(250); // the watchdog (every 100 ms) finds it gone
        return h.signal.aborted;
      })
      .catch((e: unknown) => e);
    const third = service.withLock(key, (h) => h.held);
    expect(await first).toBe('first');
    expect(await second).toBeInstanceOf(LockLostError);
    expect(await third).toBe(true);
    expect((await fence(lock, key)) - before).toBe(2n);
  });

  it('another instance waiting on the key gets it between runs of hand-overs', async () => {
    const a = open({ handOver: true, maxHandOvers: 4 });
    const b = open();
    const key = uniqueKey();
    const order: string[] = [];
    const local = Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        a.service.withLock(key, async () => {
          order.push(`a${i}`);
          await sleep(1);
        }),
      ),
    );
    await sleep(5);
    await b.service.withLock(key, () => order.push('b'), { waitTimeout: 5_000 });
    await local;
    expect(order.indexOf('b')).toBeLessThan(59);
  });
});
