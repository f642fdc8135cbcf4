import { setTimeout as sleep } from 'node:timers/promises';
import { LockLostError, LockReleasedError, LockService } from '@dlock/core';
import { startEtcd, waitFor, type EtcdServer } from '@dlock/testkit';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EtcdLock, EtcdMutex, etcdClientOptions, type EtcdLockBase } from '../src/index.js';
import { blockEventLoop, delta, etcdctl, receivedMessages, recordUnhandledRejections, testPrefix } from './helpers.js';

// Leases: shared per (instance, TTL), kept alive while used, revoked when idle; their loss (an
// `etcdctl lease revoke`, an expiry during a paused event loop) reaches holders and waiters.
let server: EtcdServer;
let raw: Etcd3;
const prefix = testPrefix();
const opened: EtcdLockBase[] = [];
let rejections: ReturnType<typeof recordUnhandledRejections>;

beforeAll(async () => {
  server = await startEtcd();
  raw = new Etcd3(etcdClientOptions({ hosts: server.endpoint }));
});
beforeEach(() => {
  rejections = recordUnhandledRejections();
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
  expect(rejections.stop()).toEqual([]);
});
afterAll(async () => {
  raw?.close();
  await server?.stop();
});

function open<T extends EtcdLockBase>(lock: T): T {
  opened.push(lock);
  return lock;
}
const mutex = (options: ConstructorParameters<typeof EtcdMutex>[1] = {}) =>
  open(new EtcdMutex({ hosts: server.endpoint }, { prefix, ...options }));

/** The lease (hex) that carries `key` in etcd. */
async function leaseOf(key: string): Promise<string> {
  const kv = (await raw.get(key).exec()).kvs[0];
  if (kv === undefined) throw new Error(`no key ${key}`);
  return BigInt(kv.lease).toString(16);
}

/** Whether etcd still has the lease (hex). */
async function leaseExists(hex: string): Promise<boolean> {
  const ttl = await raw.leaseClient.leaseTimeToLive({ ID: BigInt(`0x${hex}`).toString() });
  return Number(ttl.TTL) > 0;
}

describe('shared leases', () => {
  it('locks of one instance and TTL share one lease (named in the mutex key); another TTL gets its own', async () => {
    const m = mutex();
    const a = await m.lock('s1', { ttl: 10_000 });
    const b = await m.lock('s2', { ttl: 10_000 });
    const c = await m.lock('s3', { ttl: 20_000 });
    const keyA = (await raw.getAll().prefix(`${prefix}s1/`).keys())[0]!;
    const keyB = (await raw.getAll().prefix(`${prefix}s2/`).keys())[0]!;
    const keyC = (await raw.getAll().prefix(`${prefix}s3/`).keys())[0]!;
    expect(await leaseOf(keyA)).toBe(await leaseOf(keyB));
    expect(keyA.endsWith(`/${await leaseOf(keyA)}`)).toBe(true);
    expect(await leaseOf(keyC)).not.toBe(await leaseOf(keyA));
    const info = await raw.leaseClient.leaseTimeToLive({ ID: BigInt(`0x${await leaseOf(keyC)}`).toString() });
    expect(Number(info.grantedTTL)).toBe(20);
    await Promise.all([a.release(), b.release(), c.release()]);
  });

  it('release deletes the key and keeps the lease for the next lock; an idle lease is revoked', async () => {
    const m = mutex({ leaseIdleTimeout: 300 });
    const a = await m.lock('idle', { ttl: 10_000 });
    const key = (await raw.getAll().prefix(`${prefix}idle/`).keys())[0]!;
    const lease = await leaseOf(key);
    await a.release();
    expect(await raw.get(key).exec()).toMatchObject({ kvs: [] });
    expect(await leaseExists(lease)).toBe(true);
    const b = await m.lock('idle', { ttl: 10_000 }); // reuses it
    expect(await leaseOf((await raw.getAll().prefix(`${prefix}idle/`).keys())[0]!)).toBe(lease);
    await b.release();
    await waitFor(async () => !(await leaseExists(lease)), 2_000);
  });

  it('a lease used again while idle is revoked only leaseIdleTimeout after its last use', async () => {
    const m = mutex({ leaseIdleTimeout: 2_000 });
    const a = await m.lock('idle-again', { ttl: 10_000 });
    const lease = await leaseOf((await raw.getAll().prefix(`${prefix}idle-again/`).keys())[0]!);
    await a.release();
    await sleep(1_200);
    await (await m.lock('idle-again', { ttl: 10_000 })).release(); // the same lease, idle again from here
    const lastUse = performance.now();
    await sleep(1_000); // past the end of the first idle period, well within the second
    expect(await leaseExists(lease)).toBe(true);
    expect(performance.now() - lastUse).toBeLessThan(2_000); // the check above ran within the second period
    await waitFor(async () => !(await leaseExists(lease)), 5_000);
  });

  it('a failed tryLock, an aborted and a timed-out waiter leave no queue key behind', async () => {
    const holder = mutex();
    const other = mutex();
    const h = await holder.lock('try', { ttl: 10_000 });
    const count = () => raw.getAll().prefix(`${prefix}try/`).count();
    expect(await other.tryLock('try', { ttl: 10_000 })).toBeNull();
    expect(await count()).toBe(1);
    await expect(other.lock('try', { ttl: 10_000, waitTimeout: 200 })).rejects.toThrow(/within 200 ms/);
    expect(await count()).toBe(1);
    const controller = new AbortController();
    const waiting = other.lock('try', { ttl: 10_000, signal: controller.signal });
    await waitFor(async () => (await count()) === 2, 1_000);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(await count()).toBe(1);
    await h.release();
  });

  it('the watchdog renews all locks of a lease with one keep-alive and one ownership txn per tick', async () => {
    const m = mutex();
    const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => m.lock(`wd${i}`, { ttl: 3_000 })));
    const before = await receivedMessages(server.endpoint);
    const stops = handles.map((h) => m.autoRenew(h));
    await sleep(2_200); // two ticks at ttl/3
    const counted = delta(before, await receivedMessages(server.endpoint));
    for (const stop of stops) stop();
    expect(handles.every((h) => h.held && h.validUntil > performance.now())).toBe(true);
    // Per tick: 1 keep-alive (plus the pool's own at most) and 1 txn for 20 locks, not 20 of each.
    expect(counted['LeaseKeepAlive'] ?? 0).toBeGreaterThanOrEqual(1);
    expect(counted['LeaseKeepAlive'] ?? 0).toBeLessThanOrEqual(5);
    expect(counted['Txn'] ?? 0).toBeGreaterThanOrEqual(1);
    expect(counted['Txn'] ?? 0).toBeLessThanOrEqual(3);
    await Promise.all(handles.map((h) => h.release()));
  });

  it('a waiter keeps its place longer than its lease TTL: the lease is kept alive every ttl/3', async () => {
    const holder = mutex();
    const waiter = mutex();
    const h = await holder.lock('long-wait', { ttl: 30_000 });
    const waiting = waiter.lock('long-wait', { ttl: 2_000 });
    await waitFor(async () => (await raw.getAll().prefix(`${prefix}long-wait/`).count()) === 2, 1_000);
    const queued = await raw.getAll().prefix(`${prefix}long-wait/`).sort('Create', 'Ascend').exec();
    await sleep(3_000); // 1.5 TTLs of the waiter's 2 s lease
    expect(await raw.getAll().prefix(`${prefix}long-wait/`).count()).toBe(2);
    await h.release();
    const w = await waiting;
    expect(w.fencingToken).toBe(BigInt(queued.kvs[1]!.create_revision)); // the same queue entry
    await w.release();
  });

  it('renew to a TTL of another length moves the key to that lease; the fencing token stays', async () => {
    for (const lock of [mutex(), open(new EtcdLock({ hosts: server.endpoint }, { prefix: `${prefix}lock/` }))]) {
      const h = await lock.lock('move', { ttl: 2_000 });
      const key = lock instanceof EtcdMutex ? (await raw.getAll().prefix(`${prefix}move/`).keys())[0]! : `${prefix}lock/move`;
      const before = await leaseOf(key);
      await h.extend(30_000);
      const after = await leaseOf(key);
      expect(after).not.toBe(before);
      const granted = await raw.leaseClient.leaseTimeToLive({ ID: BigInt(`0x${after}`).toString() });
      expect(Number(granted.grantedTTL)).toBe(30);
      expect(BigInt((await raw.get(key).exec()).kvs[0]!.create_revision)).toBe(h.fencingToken);
      await sleep(2_300); // past the first lease's TTL: still ours
      expect(h.held).toBe(true);
      expect(await lock.inspect('move')).toMatchObject({ fencingToken: h.fencingToken });
      await h.release();
    }
  }, 15_000);
});

describe('ambiguous calls', () => {
  it('a release whose applied delete is re-sent (answer lost) still counts as released, for both locks', async () => {
    // A global policy that sends every unary call twice and answers with the second reply: what
    // the client's retry does when a member applied a call but its answer was lost.
    const twice = {
      _altReturn: undefined as never,
      onSuccess: () => ({ dispose: () => undefined }),
      onFailure: () => ({ dispose: () => undefined }),
      execute: async <T>(fn: (c: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> => {
        const context = { signal: new AbortController().signal };
        await fn(context);
        return fn(context);
      },
    };
    const client = new Etcd3(etcdClientOptions({ hosts: server.endpoint, faultHandling: { global: twice } }));
    try {
      for (const lock of [open(new EtcdMutex(client, { prefix })), open(new EtcdLock(client, { prefix: `${prefix}lock/` }))]) {
        const h = await lock.lock('resent', { ttl: 10_000 }); // the put is sent twice as well
        expect(await lock.isLocked('resent')).toBe(true);
        await h.release(); // no LockNotHeldError
        expect(h.signal.reason).toBeInstanceOf(LockReleasedError);
        expect(await lock.isLocked('resent')).toBe(false);
      }
    } finally {
      await Promise.allSettled(opened.splice(0).map((l) => l.close()));
      client.close();
    }
  });
});

describe('lease loss', () => {
  it.each([
    ['EtcdMutex', () => mutex()],
    ['EtcdLock', () => open(new EtcdLock({ hosts: server.endpoint }, { prefix: `${prefix}lock/` }))],
  ] as const)('%s: `etcdctl lease revoke` of a holder lease aborts handle.signal with LockLostError at once', async (_, make) => {
    const lock = make();
    const h = await lock.lock('revoke-holder', { ttl: 30_000 });
    const key =
      lock instanceof EtcdMutex ? (await raw.getAll().prefix(`${prefix}revoke-holder/`).keys())[0]! : `${prefix}lock/revoke-holder`;
    etcdctl(server.endpoint, 'lease', 'revoke', await leaseOf(key)); // (blocks this process until done)
    const revokedAt = performance.now();
    let lostAt = 0;
    h.signal.addEventListener('abort', () => (lostAt = performance.now()));
    await waitFor(() => h.signal.aborted, 5_000);
    // The lease marker's delete event, not a keep-alive 10 s later (room for a loaded machine).
    expect(lostAt - revokedAt).toBeLessThan(2_000);
    expect(h.signal.reason).toBeInstanceOf(LockLostError);
    expect(h.held).toBe(false);
    // The key is free for others, and this instance locks again on a fresh lease.
    const again = await lock.lock('revoke-holder', { ttl: 30_000, waitTimeout: 2_000 });
    expect(again.held).toBe(true);
    await again.release();
  });

  it('`etcdctl lease revoke` of a waiter lease: the waiter queues again on a fresh lease and still gets the lock', async () => {
    const holder = mutex();
    const waiter = mutex();
    const h = await holder.lock('revoke-waiter', { ttl: 30_000 });
    let settled = false;
    const waiting = waiter.lock('revoke-waiter', { ttl: 30_000, waitTimeout: 20_000 }).finally(() => (settled = true));
    await waitFor(async () => (await raw.getAll().prefix(`${prefix}revoke-waiter/`).count()) === 2, 2_000);
    const queue = await raw.getAll().prefix(`${prefix}revoke-waiter/`).sort('Create', 'Ascend').keys();
    etcdctl(server.endpoint, 'lease', 'revoke', await leaseOf(queue[1]!));
    // Losing a lease while waiting costs the waiter its place, not its call: it queues again
    // under a new lease (the key name is the lease id), behind the holder.
    await waitFor(async () => {
      const keys = await raw.getAll().prefix(`${prefix}revoke-waiter/`).sort('Create', 'Ascend').keys();
      return keys.length === 2 && keys[1] !== queue[1];
    }, 5_000);
    expect(settled).toBe(false);
    expect(h.held).toBe(true);
    await h.release();
    const next = await waiting;
    expect(next.held).toBe(true);
    expect(next.fencingToken).toBeGreaterThan(h.fencingToken);
    await next.release();
  });

  it('an event loop blocked past the lease TTL: the lock is reported lost on resume, and taken by another', async () => {
    const lock = mutex();
    const other = mutex();
    const service = new LockService(lock, { ttl: 2_000 });
    let resumedAt = 0;
    let lostAt = 0;
    let finishedAt = 0;
    const work = service.withLock('paused', async (h) => {
      h.signal.addEventListener('abort', () => (lostAt = performance.now()));
      await sleep(900); // the watchdog renewed once (at ttl/3)
      expect(h.signal.aborted).toBe(false);
      blockEventLoop(3_500); // no keep-alive, no renewal: etcd expires the 2 s lease meanwhile
      resumedAt = performance.now();
      await sleep(50);
      finishedAt = performance.now();
      return 'finished';
    });
    // withLock reports the loss instead of the function's value.
    const outcome = await work.catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(LockLostError);
    // On the first timer tick after resuming: before the function's 50 ms sleep is over, not at
    // its end or at a later renewal. An order, not a duration: it holds however late a loaded
    // machine runs the timers.
    expect(lostAt).toBeGreaterThanOrEqual(resumedAt);
    expect(lostAt).toBeLessThan(finishedAt);
    const taken = await other.lock('paused', { ttl: 5_000, waitTimeout: 1_000 });
    expect(taken.held).toBe(true);
    await taken.release();
  }, 15_000);
});
