import { LockBackendError } from '@dlock/core';
import { freePort, startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock, RedisTimeoutError } from '../src/index.js';
import { timed } from './helpers/redis.js';

// A client the user built and passed in: dlock names its connection errors in LockBackendError
// as it does for a client it created, and leaves the client as it found it on close().

const OP_TIMEOUT = 1_000;
/** Timer and scheduling slack on a loaded CI machine. */
const SLACK = 2_000;

let server: RedisServer;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await server?.stop();
});

/** A client of the user's own making; disconnected after the test. */
function userClient(port: number, options: { lazyConnect?: boolean } = {}): Redis {
  const client = new Redis({ host: '127.0.0.1', port, ...options });
  cleanups.push(() => client.disconnect());
  return client;
}

function open(client: Redis): RedisLock {
  const lock = new RedisLock(client, { operationTimeout: OP_TIMEOUT });
  cleanups.push(() => lock.close());
  return lock;
}

/** `error` and its causes, outermost first. */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && chain.length < 10; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

function listenerCounts(client: Redis): { error: number; ready: number } {
  return { error: client.listenerCount('error'), ready: client.listenerCount('ready') };
}

describe('a user-supplied client that cannot connect', () => {
  it('names the connection error in LockBackendError, and close() takes its listeners off the client', async () => {
    // Nothing listens on this port. lazyConnect: the first command makes the client connect.
    const client = userClient(await freePort(), { lazyConnect: true });
    const before = listenerCounts(client);
    const lock = open(client);
    expect(listenerCounts(client)).toEqual({ error: before.error + 1, ready: before.ready + 1 });

    const { ms, error } = await timed(lock.tryLock(uniqueKey()));
    expect(error).toBeInstanceOf(LockBackendError);
    // Not only "no reply within 1000 ms": why there was no reply.
    expect((error as Error).message).toMatch(/no reply within/);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    // The client's own error is still at the end of the cause chain.
    expect(causeChain(error).some((e) => e instanceof RedisTimeoutError)).toBe(true);
    expect(ms).toBeLessThan(OP_TIMEOUT + SLACK);

    await lock.close();
    expect(listenerCounts(client)).toEqual(before);
    // The client is the user's: still trying to connect, not closed by the lock.
    expect(client.status).not.toBe('end');
  });

  it('works next to the user\'s own error listener, which keeps receiving every error', async () => {
    // The README's advice: the application logs its client's errors itself.
    const seen: Error[] = [];
    const logErrors = (e: Error) => seen.push(e);
    const client = userClient(await freePort());
    client.on('error', logErrors);
    await waitFor(() => seen.length > 0, 5_000); // already failing before the lock exists

    const lock = open(client);
    const seenBefore = seen.length;
    const { error } = await timed(lock.tryLock(uniqueKey()));
    expect(error).toBeInstanceOf(LockBackendError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(seen.length).toBeGreaterThan(seenBefore);

    await lock.close();
    expect(client.listeners('error')).toEqual([logErrors]);
    expect(client.listenerCount('ready')).toBe(0);
  });
});

describe('a user-supplied client that connects', () => {
  it('forgets a connection error once the client is ready again', async () => {
    const down = await startRedis();
    cleanups.push(() => down.stop());
    await down.kill();
    const client = userClient(down.port);
    const lock = open(client);
    const refused = await timed(lock.tryLock(uniqueKey()));
    expect((refused.error as Error).message).toMatch(/ECONNREFUSED/);

    await down.restart();
    await waitFor(() => client.status === 'ready', 10_000);
    const handle = await lock.tryLock(uniqueKey());
    expect(handle).not.toBeNull();
    await handle!.release();

    // A paused server refuses nothing: the timeout must not be blamed on the old ECONNREFUSED.
    await down.pause();
    try {
      const { error } = await timed(lock.tryLock(uniqueKey()));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).cause).toBeInstanceOf(RedisTimeoutError);
      expect((error as Error).message).not.toMatch(/ECONNREFUSED|connection error/);
    } finally {
      await down.resume();
    }
  }, 30_000);

  it('locks sharing one client share one listener pair, removed when the last of them closes', async () => {
    const client = userClient(server.port);
    const before = listenerCounts(client);
    const first = open(client);
    const second = open(client);
    // One listener, however many locks: no MaxListenersExceededWarning for many prefixes.
    expect(listenerCounts(client)).toEqual({ error: before.error + 1, ready: before.ready + 1 });

    await first.close();
    expect(listenerCounts(client)).toEqual({ error: before.error + 1, ready: before.ready + 1 });
    await first.close(); // idempotent: does not take the second lock's listeners away
    expect(listenerCounts(client)).toEqual({ error: before.error + 1, ready: before.ready + 1 });
    const handle = await second.tryLock(uniqueKey());
    expect(handle).not.toBeNull();

    await second.close();
    expect(listenerCounts(client)).toEqual(before);
    // Still open and usable: the lock never closes a client it did not create.
    expect(await client.ping()).toBe('PONG');
  });
});
