import { setTimeout as sleep } from 'node:timers/promises';
import {
  LockAcquireTimeoutError,
  LockBackendError,
  LockLostError,
  LockNotHeldError,
  LockService,
  type LockHandle,
} from '@dlock/core';
import { startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock, RedisTimeoutError, type RedisLockOptions } from '../src/index.js';
import { timed, trackUnhandledRejections } from './helpers/redis.js';

// Real faults against a real server: SIGSTOP (nothing answers), SIGKILL (connections refused),
// restart (comes back empty). Tests run in order and share the server.
let server: RedisServer;
const unhandled = trackUnhandledRejections();
const opened: RedisLock[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  unhandled.stop();
  await Promise.allSettled(opened.map((l) => l.close()));
  await server?.stop();
});

function open(options: RedisLockOptions = {}): RedisLock {
  const lock = new RedisLock({ host: server.host, port: server.port }, options);
  opened.push(lock);
  return lock;
}

const OP_TIMEOUT = 300;
/** Timer and scheduling slack on a loaded CI machine. */
const SLACK = 400;

describe('a paused server (SIGSTOP)', () => {
  it('makes every operation fail within its deadline; locks outlive a pause shorter than their TTL', async () => {
    // unavailableTimeout 0: a lock() without waitTimeout gives up on its first failure.
    const lock = open({ operationTimeout: OP_TIMEOUT, unavailableTimeout: 0 });
    const service = new LockService(lock);
    const [kHeld, kShort, kLong, kGhost, kWait] = [uniqueKey(), uniqueKey(), uniqueKey(), uniqueKey(), uniqueKey()];
    const held = (await lock.tryLock(kHeld, { ttl: 60_000 }))!;
    const short = (await lock.tryLock(kShort, { ttl: 600 }))!;
    const long = (await lock.tryLock(kLong, { ttl: 6_000 }))!;
    service.autoRenew(short);
    service.autoRenew(long);

    await server.pause();
    const pausedAt = performance.now();
    try {
      const attempts: Array<[string, Promise<unknown>, number]> = [
        ['tryLock', lock.tryLock(kGhost, { ttl: 60_000 }), OP_TIMEOUT],
        ['lock with waitTimeout', lock.lock(kWait, { waitTimeout: 200 }), 200 + OP_TIMEOUT],
        ['lock', lock.lock(kWait), OP_TIMEOUT],
        ['unlock', held.release(), OP_TIMEOUT],
        ['renew', held.extend(), OP_TIMEOUT],
        ['inspect', lock.inspect(kHeld), OP_TIMEOUT],
      ];
      for (const [name, promise, deadline] of attempts) {
        const { ms, error } = await timed(promise);
        // A lock() with a waitTimeout retries until its deadline, then names the failure as cause.
        const backendError = error instanceof LockAcquireTimeoutError ? error.cause : error;
        expect(name === 'lock with waitTimeout' ? error : backendError, name).toBeInstanceOf(
          name === 'lock with waitTimeout' ? LockAcquireTimeoutError : LockBackendError,
        );
        expect(backendError, name).toBeInstanceOf(LockBackendError);
        expect((backendError as Error).cause, name).toBeInstanceOf(RedisTimeoutError);
        expect(ms, name).toBeLessThan(deadline + SLACK);
      }
      // Past its 600 ms TTL without a successful renewal, the short lock is reported lost...
      await waitFor(() => short.signal.aborted, 1_500);
      expect(short.signal.reason).toBeInstanceOf(LockLostError);
      // ...while the 6 s lock, whose renewals failed transiently, is still held.
      await sleep(Math.max(0, 1_200 - (performance.now() - pausedAt)));
      expect(long.held).toBe(true);
    } finally {
      await server.resume();
    }

    // Recovery: the watchdog renews the long lock again; calls succeed.
    await sleep(300);
    expect(long.held).toBe(true);
    expect((await lock.inspect(kLong))?.holder).toBe(long.token.slice(0, 8));
    // The tryLock that timed out reached the server on resume and took kGhost for a token no one
    // holds; the release queued behind it gave it back, instead of blocking the key for 60 s.
    await waitFor(async () => !(await lock.isLocked(kGhost)), 1_000);
    const again = await lock.tryLock(kGhost);
    expect(again).not.toBeNull();
    // The unlock that timed out was not taken back either: it ran on resume. The handle could
    // not know (its state stays held). Its release latch lives 2 x operationTimeout: once that
    // is over, unlocking again can only report that the lock is gone.
    expect(held.held).toBe(true);
    expect(await lock.isLocked(kHeld)).toBe(false);
    await sleep(2 * OP_TIMEOUT + 100);
    await expect(held.release()).rejects.toBeInstanceOf(LockNotHeldError);
    await Promise.all([again!.release(), long.release()]);
  }, 20_000);
});

describe('a killed and restarted server', () => {
  it('fails fast while down, works after the restart, and fencing tokens still increase', async () => {
    const lock = open({ operationTimeout: 2_000, unavailableTimeout: 500 });
    const key = uniqueKey();
    const before = (await lock.tryLock(key))!;
    await before.release();

    await server.kill();
    // Refused connections fail queued commands after two reconnect attempts, well before 2 s;
    // lock() retries them until unavailableTimeout (500 ms) or its waitTimeout.
    for (const [call, limit] of [
      [() => lock.tryLock(key), 1_500],
      [() => lock.lock(key), 500 + 1_500],
      [() => lock.lock(key, { waitTimeout: 800 }), 800 + 1_500],
    ] as const) {
      const { ms, error } = await timed(call());
      expect(error).toBeInstanceOf(error instanceof LockAcquireTimeoutError ? LockAcquireTimeoutError : LockBackendError);
      // The message names why the connection fails, not only ioredis's retry limit.
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      expect(ms).toBeLessThan(limit);
    }

    await server.restart(); // no persistence: comes back empty, fence counter included
    let after: LockHandle | null = null;
    await waitFor(async () => {
      after = await lock.tryLock(key).catch(() => null);
      return after !== null;
    }, 5_000);
    // The counter restarted from the server clock (microseconds), above every earlier token.
    expect(after!.fencingToken).toBeGreaterThan(before.fencingToken);
    await after!.release();
  }, 20_000);

  it('waiters sleeping through a restart are woken when the subscriber reconnects, and pub/sub works again', async () => {
    // No polling to fall back on: a waiter sleeps until the holder's 60 s lease or a wake-up.
    const holderLock = open();
    const waitersLock = open({ maxRetryDelay: 30_000 });
    const key = uniqueKey();
    const holder = (await holderLock.tryLock(key, { ttl: 60_000 }))!;
    const acquired: LockHandle[] = [];
    const waiters = [0, 1, 2].map(() =>
      waitersLock.lock(key, { ttl: 60_000, waitTimeout: 15_000 }).then((h) => {
        acquired.push(h);
        return h;
      }),
    );
    await sleep(300);
    expect(acquired).toHaveLength(0);

    const restartedAt = performance.now();
    await server.restart(); // the held lock is gone with the data
    // The first waiter is woken by the reconnect (its release was never published)...
    await waitFor(() => acquired.length === 1, 5_000);
    // ...and each release after that reaches the next waiter through the re-subscribed channel.
    await acquired[0]!.release();
    await waitFor(() => acquired.length === 2, 2_000);
    await acquired[1]!.release();
    await waitFor(() => acquired.length === 3, 2_000);
    await acquired[2]!.release();
    expect(performance.now() - restartedAt).toBeLessThan(10_000);
    await Promise.all(waiters);
    expect(acquired[1]!.fencingToken).toBeGreaterThan(acquired[0]!.fencingToken);
    expect(acquired[0]!.fencingToken).toBeGreaterThan(holder.fencingToken);
  }, 30_000);
});

it('no unhandled rejection was raised by any of the faults above', async () => {
  await sleep(200); // late replies and timers of the tests above
  expect(unhandled.reasons).toEqual([]);
});

it('lock() with a waitTimeout reports LockAcquireTimeoutError, not a backend error, while the server is healthy', async () => {
  const lock = open({ operationTimeout: OP_TIMEOUT });
  const key = uniqueKey();
  const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
  await expect(lock.lock(key, { waitTimeout: 100 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
  await h.release();
});
