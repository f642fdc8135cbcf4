import { setTimeout as sleep } from 'node:timers/promises';
import type { LockHandle } from '@dlock/core';
import { startEtcd, waitFor, type EtcdServer } from '@dlock/testkit';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdReadWriteLock, EtcdSemaphore, etcdClientOptions } from '../src/index.js';
import { delta, etcdctl, receivedMessages, testPrefix } from './helpers.js';

// The claim drivers' queue in etcd: every waiter watches one key (or, first in line for permits,
// one directory), so a release costs O(1) requests and wakes only those it admits; a waiter whose
// lease is revoked drops out and the one behind it moves up.
let server: EtcdServer;
let client: Etcd3;
const prefix = testPrefix();
const WAITERS = 20;

beforeAll(async () => {
  server = await startEtcd();
  client = new Etcd3(etcdClientOptions({ hosts: server.endpoint }));
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

/** Everything but lease keep-alives, which run on their own clock and not because of a release. */
function requests(counts: Record<string, number>): number {
  return Object.entries(counts).reduce((sum, [method, n]) => (method === 'LeaseKeepAlive' ? sum : sum + n), 0);
}

async function keysUnder(dir: string): Promise<number> {
  return client.getAll().prefix(dir).count();
}

describe('etcd claim queue', () => {
  it(`a writer's release with ${WAITERS} writers queued wakes exactly the next one, in O(1) requests; readers behind a writer enter together`, async () => {
    const locks = Array.from({ length: WAITERS + 4 }, () => new EtcdReadWriteLock(client, { prefix, defaultTtl: 60_000 }));
    try {
      const dir = locks[0]!.directoryFor('hot');
      const holder = await locks[0]!.writeLock('hot');
      const acquired: Array<{ index: number; handle: LockHandle }> = [];
      const waiting = locks.slice(1, WAITERS + 1).map((lock, i) =>
        lock.writeLock('hot').then((handle) => {
          acquired.push({ index: i + 1, handle });
          return handle;
        }),
      );
      for (const w of waiting) w.catch(() => undefined);
      await waitFor(async () => (await keysUnder(dir)) === WAITERS + 1, 10_000);
      await sleep(500); // every waiter's watch registered
      const queue = await client.getAll().prefix(dir).sort('Create', 'Ascend').exec();
      const before = await receivedMessages(server.endpoint);
      await holder.release();
      await waitFor(() => acquired.length > 0, 2_000);
      await sleep(300);
      const oneRelease = delta(before, await receivedMessages(server.endpoint));
      expect(acquired).toHaveLength(1);
      expect(acquired[0]!.handle.fencingToken).toBe(BigInt(queue.kvs[1]!.create_revision));
      expect(requests(oneRelease)).toBeLessThan(10);

      // Three readers queue behind the last writer: its release lets all three in at once.
      const readers = locks.slice(WAITERS + 1).map((lock) => lock.readLock('hot'));
      for (const r of readers) r.catch(() => undefined);
      await waitFor(async () => (await keysUnder(dir)) === WAITERS + 3, 10_000);
      for (let i = 0; i < WAITERS; i++) {
        await waitFor(() => acquired.length > i, 2_000);
        expect(acquired).toHaveLength(i + 1); // one writer at a time, in queue order
        await acquired[i]!.handle.release();
      }
      const held = await Promise.all(readers);
      expect(held.every((h) => h.held)).toBe(true);
      expect(await locks[0]!.inspect('hot')).toMatchObject({ readers: 3, writer: false, waiting: 0 });
      await Promise.all(held.map((h) => h.release()));
    } finally {
      await Promise.all(locks.map((l) => l.close()));
    }
  });

  it(`a permit released with ${WAITERS} requests queued wakes one waiter, in O(1) requests`, async () => {
    const sems = Array.from({ length: WAITERS + 2 }, () => new EtcdSemaphore(client, { prefix, defaultTtl: 60_000 }));
    try {
      const dir = sems[0]!.directoryFor('pool');
      const holders = await Promise.all([sems[0]!.acquire('pool', { limit: 2 }), sems[1]!.acquire('pool', { limit: 2 })]);
      const acquired: LockHandle[] = [];
      const waiting = sems.slice(2).map((sem) => sem.acquire('pool', { limit: 2 }).then((h) => acquired.push(h)));
      for (const w of waiting) w.catch(() => undefined);
      await waitFor(async () => (await keysUnder(dir)) === WAITERS + 2, 10_000);
      await sleep(500);
      const before = await receivedMessages(server.endpoint);
      await holders[1]!.release();
      await waitFor(() => acquired.length > 0, 2_000);
      await sleep(300);
      const oneRelease = delta(before, await receivedMessages(server.endpoint));
      expect(acquired).toHaveLength(1);
      expect(requests(oneRelease)).toBeLessThan(12);
      expect(await sems[0]!.inspect('pool')).toMatchObject({ used: 2, holders: 2, limit: 2, waiting: WAITERS - 1 });
      // Hand the permits down the queue, two holders at a time.
      await holders[0]!.release();
      for (let i = 0; i < WAITERS; i++) {
        await waitFor(() => acquired.length > i, 2_000);
        await acquired[i]!.release();
      }
      expect(acquired).toHaveLength(WAITERS);
    } finally {
      await Promise.all(sems.map((s) => s.close()));
    }
  });

  it('a waiter whose lease was revoked is removed and the one behind it proceeds', async () => {
    const [a, b, c] = Array.from({ length: 3 }, () => new EtcdReadWriteLock(client, { prefix, defaultTtl: 60_000 }));
    try {
      const dir = a!.directoryFor('revoked');
      const held = await a!.writeLock('revoked');
      const bWaits = b!.writeLock('revoked');
      bWaits.catch(() => undefined);
      await waitFor(async () => (await keysUnder(dir)) === 2, 5_000);
      const cWaits = c!.writeLock('revoked');
      await waitFor(async () => (await keysUnder(dir)) === 3, 5_000);
      const queue = await client.getAll().prefix(dir).sort('Create', 'Ascend').exec();
      const [, bKey, cKey] = queue.kvs;
      etcdctl(server.endpoint, 'lease', 'revoke', BigInt(bKey!.lease).toString(16));
      // b's key went with its lease; b queues again, behind c, on a fresh lease.
      await waitFor(async () => {
        const now = await client.getAll().prefix(dir).sort('Create', 'Ascend').exec();
        return now.kvs.length === 3 && !now.kvs.some((kv) => kv.key.equals(bKey!.key)) && BigInt(now.kvs[2]!.create_revision) > BigInt(cKey!.create_revision);
      }, 5_000);
      await held.release();
      const cHolds = await cWaits;
      expect(cHolds.fencingToken).toBe(BigInt(cKey!.create_revision));
      expect(await a!.inspect('revoked')).toMatchObject({ readers: 0, writer: true, waiting: 1 });
      await cHolds.release();
      const bHolds = await bWaits;
      expect(bHolds.fencingToken).toBeGreaterThan(cHolds.fencingToken);
      await bHolds.release();
      expect(await keysUnder(dir)).toBe(0);
    } finally {
      await Promise.all([a, b, c].map((l) => l!.close()));
    }
  });
});
