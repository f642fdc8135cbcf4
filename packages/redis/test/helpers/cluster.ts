import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, startRedis, type RedisServer } from '@dlock/testkit';
import { adminClient } from './redis.js';

const run = promisify(execFile);

/** A Redis Cluster of local redis-server processes, every slot assigned, `cluster_state:ok`. */
export interface TestCluster {
  readonly nodes: RedisServer[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-servers with `--cluster-enabled yes` (each with its own nodes.conf in
 * its temp dir and an explicit bus port, since port+10000 may be taken or out of range), joins
 * them with `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`.
 */
export async function startCluster(masters = 3): Promise<TestCluster> {
  // Cluster nodes announce their own address: that only works with local processes.
  process.env['DLOCK_TEST_SERVERS'] = 'local';
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      const busPort = await freePort();
      nodes.push(
        await startRedis({
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort), '--cluster-node-timeout', '2000'],
        }),
      );
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 },
    );
    await waitClusterOk(nodes, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, stop };
}

async function waitClusterOk(nodes: readonly RedisServer[], timeoutMs: number): Promise<void> {
  const clients = nodes.map((n) => adminClient(n.port));
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.cluster('INFO') as Promise<string>));
      if (infos.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info))) return;
      if (performance.now() > deadline) throw new Error(`cluster not ok after ${timeoutMs} ms:\n${infos.join('\n')}`);
      await sleep(100);
    }
  } finally {
    clients.forEach((c) => c.disconnect());
  }
}
