import { setTimeout as sleep } from 'node:timers/promises';
import type { LockHandle } from '@dlock/core';
import { startEtcd, waitFor, type EtcdServer } from '@dlock/testkit';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdMutex, etcdClientOptions } from '../src/index.js';
import { delta, receivedMessages, testPrefix } from './helpers.js';

// 50 waiters from 50 instances (50 leases, 50 queue keys) on one name. A release must cost
// O(1) requests in total: only the next waiter is woken, the other 49 stay asleep.
let server: EtcdServer;
let client: Etcd3;
const prefix = testPrefix();
const WAITERS = 50;

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

describe('EtcdMutex herd check', () => {
  it(`one release with ${WAITERS} queued waiters costs O(1) etcd requests, and wakes exactly one waiter`, async () => {
    const locks = Array.from({ length: WAITERS + 1 }, () => new EtcdMutex(client, { prefix, defaultTtl: 60_000 }));
    try {
      const holder = await locks[0]!.lock('hot');
      const acquired: Array<{ index: number; handle: LockHandle }> = [];
      const waiting = locks.slice(1).map((lock, i) =>
        lock.lock('hot').then((handle) => {
          acquired.push({ index: i + 1, handle });
          return handle;
        }),
      );
      for (const w of waiting) w.catch(() => undefined); // close() fails them if an assertion stops the test
      // All queued in etcd, and every waiter's watch on its predecessor registered.
      await waitFor(async () => (await client.getAll().prefix(`${prefix}hot/`).count()) === WAITERS + 1, 10_000);
      await sleep(500);
      expect(acquired).toHaveLength(0);
      // The queue in create-revision order: the holder, then the oldest waiter.
      const queue = await client.getAll().prefix(`${prefix}hot/`).sort('Create', 'Ascend').exec();
      const oldestWaiter = BigInt(queue.kvs[1]!.create_revision);

      const before = await receivedMessages(server.endpoint);
      await holder.release();
      await waitFor(() => acquired.length > 0, 2_000);
      await sleep(300); // let the trailing watch cancellations arrive
      const after = await receivedMessages(server.endpoint);
      const oneRelease = delta(before, after);

      expect(acquired).toHaveLength(1); // exactly one woken: the oldest waiter
      expect(acquired[0]!.handle.fencingToken).toBe(oldestWaiter);
      expect(requests(oneRelease)).toBeLessThan(10);
      expect(oneRelease['Range'] ?? 0).toBe(0); // nobody re-reads the queue except through the one txn

      // Hand the lock down the whole queue: each hand-off costs the same few requests.
      const chainBefore = await receivedMessages(server.endpoint);
      for (let i = 0; i < WAITERS; i++) {
        await waitFor(() => acquired.length > i, 2_000);
        expect(acquired).toHaveLength(i + 1); // one at a time
        const next = acquired[i]!.handle;
        if (i > 0) expect(next.fencingToken).toBeGreaterThan(acquired[i - 1]!.handle.fencingToken);
        await next.release();
      }
      await sleep(300);
      const chain = delta(chainBefore, await receivedMessages(server.endpoint));
      const perHandOff = requests(chain) / (WAITERS - 1);
      expect(perHandOff).toBeLessThan(10);
      console.info(
        `herd: one release with ${WAITERS} waiters -> ${requests(oneRelease)} requests ${JSON.stringify(oneRelease)}; ` +
          `${(requests(chain) / WAITERS).toFixed(2)} requests per hand-off over ${WAITERS} hand-offs ${JSON.stringify(chain)}`,
      );
    } finally {
      await Promise.allSettled(locks.map((l) => l.close()));
    }
  }, 30_000);
});
