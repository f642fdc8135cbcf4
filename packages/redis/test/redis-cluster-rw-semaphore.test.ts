import { uniqueKey } from '@dlock/testkit';
import { rwLockContractSuite, semaphoreContractSuite } from '@dlock/testkit/contract';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReadWriteLock, RedisSemaphore, type RedisClaimOptions } from '../src/index.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';

// The read-write lock and semaphore contracts on a real 3-master Redis Cluster: the scripts touch
// several names of a key, which must share one slot; releases are published on one node and heard
// by a subscriber connected to another.
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

/** Each instance on its own Cluster client, disconnected by close() (the suites open many). */
class ClusterRW extends RedisReadWriteLock {
  constructor(options?: RedisClaimOptions) {
    super(clusterClient(), options);
  }
  override async close(): Promise<void> {
    await super.close();
    this.client.disconnect();
  }
}
class ClusterSemaphore extends RedisSemaphore {
  constructor(options?: RedisClaimOptions) {
    super(clusterClient(), options);
  }
  override async close(): Promise<void> {
    await super.close();
    this.client.disconnect();
  }
}

rwLockContractSuite('RedisReadWriteLock (3-master Cluster)', () => new ClusterRW(), { wakeupBudgetMs: 600 });
semaphoreContractSuite('RedisSemaphore (3-master Cluster)', () => new ClusterSemaphore(), { wakeupBudgetMs: 600 });

describe('RedisReadWriteLock and RedisSemaphore on a Cluster', () => {
  it('the server puts every name of a key in one slot', async () => {
    const client = clusterClient();
    const rw = new ClusterRW();
    try {
      for (const key of ['plain', 'a}b', '{}', 'a{b}c', uniqueKey()]) {
        const slots = await Promise.all(Object.values(rw.keysFor(key)).map((name) => client.cluster('KEYSLOT', name)));
        expect(new Set(slots.map(Number)).size, key).toBe(1);
      }
    } finally {
      client.disconnect();
      await rw.close();
    }
  });
});
