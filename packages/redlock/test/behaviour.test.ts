import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidOptionError,
  LockAcquireTimeoutError,
  LockEngine,
  LockLostError,
  LockNotHeldError,
  type AcquireRequest,
  type AcquireResult,
  type Clock,
} from '@dlock/core';
import type { RedisLockKeys } from '@dlock/redis/protocol';
import { startRedisNodes, uniqueKey, waitFor, type RedisServer, type ServerGroup } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redlock, type RedlockOptions } from '../src/index.js';
import { redlockOptionNames } from '../src/options.js';
import { RedlockDriver } from '../src/redlock-driver.js';
import { directClients, holdersOf } from './helpers.js';

let nodes: ServerGroup<RedisServer>;
let direct: ReturnType<typeof directClients>;
const opened: Array<{ close(): Promise<void> }> = [];
const urls = () => nodes.map((n) => n.url);
const open = (options: RedlockOptions = {}): Redlock => {
  const lock = new Redlock(urls(), options);
  opened.push(lock);
  return lock;
};

/** A clock the test moves: `step` ms pass on every reading. */
function steppingClock(start = 1_000): Clock & { t: number; step: number } {
  const clock = {
    t: start,
    step: 0,
    now(): number {
      clock.t += clock.step;
      return clock.t;
    },
  };
  return clock;
}

/** Redlock's driver, counting its acquire attempts (round trips to the quorum). */
class CountingDriver extends RedlockDriver {
  attempts = 0;
  override acquire(request: AcquireRequest): Promise<AcquireResult<RedisLockKeys>> {
    this.attempts++;
    return super.acquire(request);
  }
}

/** A Redlock as `new Redlock()` assembles it (its driver under the engine), whose attempts are counted. */
class CountingRedlock extends LockEngine<RedisLockKeys> {
  readonly #driver: CountingDriver;
  constructor(nodes: readonly string[], options: RedlockOptions = {}) {
    const driver = new CountingDriver(nodes, options);
    super(driver, options, { names: redlockOptionNames, what: 'new CountingRedlock()' });
    this.#driver = driver;
  }
  get attempts(): number {
    return this.#driver.attempts;
  }
}

beforeAll(async () => {
  nodes = await startRedisNodes(3);
  direct = directClients(nodes);
});
afterAll(async () => {
  direct?.close();
  await nodes?.stop();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
});

describe('Redlock validity and the clock', () => {
  it('validity comes from the injected monotonic clock only; wall-clock jumps change nothing', async () => {
    const clock = steppingClock(1_000);
    const lock = open({ clock });
    const key = uniqueKey('redlock-clock');
    const realNow = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => realNow + 86_400_000); // NTP step: +1 day
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    // No time passed on the injected clock: validity is exactly ttl - drift from its reading.
    expect(h.validUntil).toBe(1_000 + 10_000 - lock.drift(10_000));

    vi.spyOn(Date, 'now').mockImplementation(() => realNow - 86_400_000); // and back: -1 day
    clock.t = 5_000;
    await h.extend(20_000);
    expect(h.validUntil).toBe(5_000 + 20_000 - lock.drift(20_000));
    await h.release();
  });

  it('with the default clock, validUntil is on the performance.now() scale whatever Date.now says', async () => {
    const lock = open();
    const key = uniqueKey('redlock-clock-default');
    vi.spyOn(Date, 'now').mockImplementation(() => 0); // the epoch: a wall clock gone badly wrong
    const before = performance.now();
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    const after = performance.now();
    expect(h.validUntil).toBeGreaterThanOrEqual(before + 10_000 - lock.drift(10_000));
    expect(h.validUntil).toBeLessThanOrEqual(after + 10_000 - lock.drift(10_000));
    await h.release();
  });

  it('an acquire slower than the TTL is not a lock: undone on every node, tryLock resolves null', async () => {
    const clock = steppingClock();
    clock.step = 600; // each reading is 600 ms later: the attempt "took" longer than the 500 ms TTL
    const lock = open({ clock });
    const key = uniqueKey('redlock-slow-acquire');
    expect(await lock.tryLock(key, { ttl: 500 })).toBeNull();
    expect(await holdersOf(direct, key)).toEqual([]);
    // lock() retries, and gives up when its (injected-clock) waitTimeout passes.
    const started = performance.now();
    await expect(lock.lock(key, { ttl: 500, waitTimeout: 3_000 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await holdersOf(direct, key)).toEqual([]);
  });

  it('an extension slower than the TTL reports the lock lost and gives back what is left', async () => {
    const clock = steppingClock();
    const lock = open({ clock });
    const key = uniqueKey('redlock-slow-extend');
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    clock.step = 20_000;
    await expect(h.extend(10_000)).rejects.toBeInstanceOf(LockNotHeldError);
    expect(h.signal.reason).toBeInstanceOf(LockLostError);
    await waitFor(async () => (await holdersOf(direct, key)).length === 0, 1_000);
  });
});

describe('Redlock waiting', () => {
  it('is woken by the release announcement, without polling in between', async () => {
    const holder = open();
    const waiter = new CountingRedlock(urls());
    opened.push(waiter);
    const key = uniqueKey('redlock-wake');
    const h = (await holder.tryLock(key, { ttl: 10_000 }))!;
    const waiting = waiter.lock(key, { ttl: 10_000 });
    await sleep(1_000);
    // First attempt, and one more right after subscribing; then it sleeps.
    expect(waiter.attempts).toBeLessThanOrEqual(2);
    const releasedAt = performance.now();
    await h.release();
    const next = await waiting;
    // Woken by the announcement: one attempt more, long before the ~9 s the lease has left
    // (the bound leaves room for a loaded machine; the attempt count is the exact check).
    expect(performance.now() - releasedAt).toBeLessThan(1_000);
    expect(waiter.attempts).toBeLessThanOrEqual(3);
    await next.release();
  });

  it('waitTimeout 0 gives up without retrying: its attempt and the one re-check after subscribing', async () => {
    const holder = open();
    const waiter = new CountingRedlock(urls());
    opened.push(waiter);
    const key = uniqueKey('redlock-zero-wait');
    const h = (await holder.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    await expect(waiter.lock(key, { waitTimeout: 0 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    expect(waiter.attempts).toBe(2);
    await h.release();
  });

  it('sleeps until the leases the nodes reported end when the holder never releases', async () => {
    const holder = open();
    // Without the nodes' PTTLs the waiter would sleep maxRetryDelay: 5 s here, far from the 700 ms
    // lease, so the upper bound below can leave room for a loaded machine and still tell them apart.
    const waiter = new CountingRedlock(urls(), { maxRetryDelay: 5_000 });
    opened.push(waiter);
    const key = uniqueKey('redlock-pttl');
    const acquiredAt = performance.now();
    const h = (await holder.tryLock(key, { ttl: 700 }))!;
    expect(h).not.toBeNull(); // abandoned: never released, never renewed
    const next = await waiter.lock(key, { ttl: 10_000, waitTimeout: 5_000 });
    const waited = performance.now() - acquiredAt;
    expect(waited).toBeGreaterThanOrEqual(650);
    expect(waited).toBeLessThan(2_500);
    expect(waiter.attempts).toBeLessThanOrEqual(4);
    await next.release();
  });
});

describe('Redlock construction', () => {
  it('rejects bad nodes and options with InvalidOptionError before connecting', () => {
    const bad: Array<[unknown, unknown]> = [
      [[], {}],
      ['redis://127.0.0.1:1', {}],
      [[null], {}],
      [[42], {}],
      [urls(), { nodeTimeout: 0 }],
      [urls(), { nodeTimeout: Number.NaN }],
      [urls(), { driftFactor: 1 }],
      [urls(), { driftMs: -1 }],
      [urls(), { retryDelay: '5' }],
      [urls(), { prefix: '' }],
      [urls(), { fencing: 'yes' }],
      [urls(), { defaultTtl: 0 }],
    ];
    for (const [n, o] of bad) {
      expect(() => new Redlock(n as string[], o as RedlockOptions)).toThrow(InvalidOptionError);
    }
    expect(() => new Redlock(urls(), { nodeTimeout: -5 })).toThrow(/^nodeTimeout must be a finite number > 0 \(milliseconds\), got -5 \(number\)$/);
  });

  it('uses ioredis clients it is given, and leaves them open at close()', async () => {
    const clients = nodes.map((n) => new Redis(n.url));
    try {
      const lock = new Redlock(clients);
      expect(lock.quorum).toBe(2);
      const key = uniqueKey('redlock-clients');
      const h = (await lock.tryLock(key))!;
      expect((await holdersOf(direct, key)).length).toBeGreaterThanOrEqual(2); // decided at a quorum
      await waitFor(async () => (await holdersOf(direct, key)).length === 3, 1_000); // the last one lands too
      await lock.close();
      expect(h.held).toBe(false);
      expect(await holdersOf(direct, key)).toEqual([]);
      expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(['PONG', 'PONG', 'PONG']);
    } finally {
      clients.forEach((c) => c.disconnect());
    }
  });

  it('survives a flushed script cache (NOSCRIPT) on every path, the watchdog batch included', async () => {
    const lock = open();
    const key = uniqueKey('redlock-noscript');
    const h = (await lock.tryLock(key, { ttl: 300 }))!;
    const stop = lock.autoRenew(h);
    await h.extend(300);
    await Promise.all(direct.map((c) => c.script('FLUSH')));
    await h.extend(300); // EVALSHA -> NOSCRIPT -> EVAL
    await Promise.all(direct.map((c) => c.script('FLUSH')));
    await sleep(700); // watchdog ticks (pipelined EVALSHA -> NOSCRIPT -> LOAD) keep it alive
    expect(h.held).toBe(true);
    expect(await lock.isLocked(key)).toBe(true);
    stop();
    await h.release();
    // Decided at a quorum (2 of 3): the last node's release (NOSCRIPT -> EVAL after the flush)
    // may land a moment later.
    expect((await holdersOf(direct, key)).length).toBeLessThanOrEqual(1);
    await waitFor(async () => (await holdersOf(direct, key)).length === 0, 2_000);
  });

  it('keeps its keys under the prefix it is given', async () => {
    const lock = open({ prefix: 'billing' });
    const key = uniqueKey('redlock-prefix');
    const h = (await lock.tryLock(key))!;
    expect(h).not.toBeNull();
    // On a quorum (2 of 3) at least: the first call connects, and a slow node's acquire (on a busy
    // machine) may still be on its way when the quorum decided.
    const exists = (name: string) => Promise.all(direct.map((c) => c.exists(name)));
    expect((await exists(`billing:{${key}}`)).filter((n) => n === 1).length).toBeGreaterThanOrEqual(2);
    expect(await exists(`dlock:{${key}}`)).toEqual([0, 0, 0]);
    await h.release();
  });
});
