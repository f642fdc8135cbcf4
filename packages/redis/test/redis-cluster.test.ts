import { setTimeout as sleep } from 'node:timers/promises';
import { LockService, type LockHandle } from '@dlock/core';
import { lockContractSuite } from '@dlock/testkit/contract';
import { uniqueKey } from '@dlock/testkit';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSlot } from '../src/cluster-slot.js';
import { RedisLock, redisLockKeys, type RedisLockOptions } from '../src/index.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { recordPipelines } from './helpers/redis.js';

// A real 3-master Redis Cluster: every lock's keys must share a slot, scripts are routed by key,
// releases are PUBLISHed on one node and heard by a subscriber connected to another.
let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster(3);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

function clusterClient(): Cluster {
  const client = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
  client.on('error', () => undefined);
  return client;
}

/** A RedisLock on its own Cluster client, which close() also disconnects (the suite opens many). */
class ClusterLock extends RedisLock {
  constructor(options?: RedisLockOptions) {
    super(clusterClient(), options);
  }
  override async close(): Promise<void> {
    await super.close();
    this.client.disconnect();
  }
}

// wakeupBudgetMs: as for standalone, below the ~850 ms of a waiter polling every maxRetryDelay.
lockContractSuite('RedisLock (3-master Cluster)', () => new ClusterLock(), { fifo: true, fair: 'turns', wakeupBudgetMs: 500 });

describe('RedisLock on a Cluster', () => {
  it('computes the same slot as the server, and the lock, fence and channel of a key share it', async () => {
    const client = clusterClient();
    try {
      const keys = ['plain', 'a}b', '}x', '{', '{}', 'a{b}c', 'ключ 🔒', uniqueKey()];
      for (const key of keys) {
        const names = redisLockKeys('dlock', key);
        const slot = Number(await client.cluster('KEYSLOT', names.lock));
        expect(clusterSlot(names.lock)).toBe(slot);
        expect(Number(await client.cluster('KEYSLOT', names.fence))).toBe(slot);
        expect(Number(await client.cluster('KEYSLOT', names.channel))).toBe(slot);
      }
    } finally {
      client.disconnect();
    }
  });

  it('spreads locks over all masters and renews them with one pipeline per node per tick', async () => {
    const lock = new ClusterLock();
    const client = lock.client as unknown as Cluster;
    const pipelineSizes = recordPipelines(client);
    const service = new LockService(lock);
    try {
      const base = uniqueKey();
      const handles = (await Promise.all(
        Array.from({ length: 300 }, (_, i) => lock.tryLock(`${base}:${i}`, { ttl: 1_500 })),
      )) as LockHandle[];
      expect(handles.every((h) => h !== null)).toBe(true);
      const masters = new Set(handles.map((h) => client.slots[clusterSlot(lock.keysFor(h.key).lock)]?.[0]));
      expect(masters.size).toBe(3);
      const stops = handles.map((h) => service.autoRenew(h));
      await sleep(1_700); // ticks at ~500, ~1000, ~1500 ms; the 1.5 s TTL would have run out without them
      stops.forEach((stop) => stop());
      expect(handles.every((h) => h.held)).toBe(true);
      // Every lock renewed each tick, in about 3 pipelines (one per node) per tick: ~100 renewals
      // per round trip, not 300 round trips per tick.
      const renewed = pipelineSizes.reduce((a, b) => a + b, 0);
      const ticks = renewed / 300;
      expect(Number.isInteger(ticks)).toBe(true);
      expect(ticks).toBeGreaterThanOrEqual(2);
      expect(pipelineSizes.length).toBeLessThanOrEqual(3 * ticks + 3);
      expect(Math.max(...pipelineSizes)).toBeGreaterThanOrEqual(80);
      await Promise.all(handles.map((h) => h.release()));
    } finally {
      await lock.close();
    }
  }, 30_000);
});
