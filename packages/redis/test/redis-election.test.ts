// RedisElection: the election contract on a standalone server and on a 3-master Cluster, plus the
// Redis layout (one hash tag per election) and the renewal of many leaderships per pipeline.
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis, uniqueKey, type RedisServer } from '@dlock/testkit';
import { electionContractSuite } from '@dlock/testkit/contract';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSlot } from '../src/cluster-slot.js';
import { RedisElection, redisElectionKeys, type RedisElectionOptions } from '../src/index.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { recordPipelines } from './helpers/redis.js';

let server: RedisServer;
let cluster: TestCluster;
beforeAll(async () => {
  server = await startRedis();
  cluster = await startCluster(3);
}, 90_000);
afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
});

// Below the ~850 ms a candidate polling every maxRetryDelay would take, with room for a loaded machine.
electionContractSuite('RedisElection (standalone)', () => new RedisElection({ host: server.host, port: server.port }), { wakeupBudgetMs: 500 });

function clusterClient(): Cluster {
  const client = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
  client.on('error', () => undefined);
  return client;
}

/** A RedisElection on its own Cluster client, which close() also disconnects. */
class ClusterElection extends RedisElection {
  constructor(options?: RedisElectionOptions) {
    super(clusterClient(), options);
  }
  override async close(): Promise<void> {
    await super.close();
    this.client.disconnect();
  }
}

// shortTtl: a 300 ms lease leaves the watchdog ~200 ms per renewal; a Cluster client's pipeline
// on a loaded 2-core machine (three servers, two busy loops) has been seen to need more.
electionContractSuite('RedisElection (3-master Cluster)', () => new ClusterElection(), { wakeupBudgetMs: 500, shortTtl: 600 });

describe('RedisElection on Redis', () => {
  it('keeps an election under one hash tag: a leader hash {token, value, term} with the lease as its expiry', async () => {
    const election = new RedisElection(server.url, { prefix: 'elect-test' });
    const admin = new Redis(server.url);
    try {
      const name = `${uniqueKey()}}{odd%`;
      const keys = redisElectionKeys('elect-test', name);
      expect(election.keysFor(name)).toEqual(keys);
      expect(clusterSlot(keys.counter)).toBe(clusterSlot(keys.leader));
      expect(keys.leader.startsWith('elect-test:{')).toBe(true);
      const leadership = await election.campaign(name, 'pod-a', { ttl: 10_000 });
      const stored = await admin.hgetall(keys.leader);
      expect(stored).toMatchObject({ token: leadership.token, value: 'pod-a', term: String(leadership.term) });
      const pttl = await admin.pttl(keys.leader);
      expect(pttl).toBeGreaterThan(9_000);
      expect(pttl).toBeLessThanOrEqual(10_000);
      // The counter already moved on from the term: a resign is a change too.
      await leadership.resign();
      expect(await admin.exists(keys.leader)).toBe(0);
      expect(BigInt((await admin.get(keys.counter))!)).toBeGreaterThan(leadership.term);
    } finally {
      admin.disconnect();
      await election.close();
    }
  });

  it('a leader deleted behind its back is lost at the next renewal; a candidate is elected at once on the lease end', async () => {
    const a = new RedisElection(server.url);
    const b = new RedisElection(server.url);
    const admin = new Redis(server.url);
    try {
      const name = uniqueKey();
      const leadership = await a.campaign(name, 'a', { ttl: 900 });
      await admin.del(redisElectionKeys('dlock:election', name).leader);
      await sleep(600); // renewal at ~300 ms finds it gone
      expect(leadership.held).toBe(false);
      const next = await b.campaign(name, 'b', { waitTimeout: 1_000 });
      expect(next.term).toBeGreaterThan(leadership.term);
      await next.resign();
    } finally {
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('renews the leaderships of a Cluster instance with one pipeline per node per tick', async () => {
    const election = new ClusterElection();
    const pipelineSizes = recordPipelines(election.client as unknown as Cluster);
    try {
      const base = uniqueKey();
      const leaderships = await Promise.all(Array.from({ length: 60 }, (_, i) => election.campaign(`${base}:${i}`, `v${i}`, { ttl: 1_500 })));
      await sleep(1_700);
      expect(leaderships.every((l) => l.held)).toBe(true);
      const renewed = pipelineSizes.reduce((a, b) => a + b, 0);
      expect(renewed % 60).toBe(0);
      expect(pipelineSizes.length).toBeLessThanOrEqual((renewed / 60) * 3);
      await Promise.all(leaderships.map((l) => l.resign()));
    } finally {
      await election.close();
    }
  });
});
