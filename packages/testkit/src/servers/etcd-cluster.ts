import { etcdMemberAdd, etcdMemberList, etcdMemberRemove } from './etcd-api.js';
import { clusterToken, findLeader, stopMembers } from './etcd-members.js';
import { LocalEtcdServer } from './etcd-server.js';
import { wipeDataDir } from './data-dir.js';
import { ServerStartError } from './local-server.js';
import { requireBinary, serverMode } from './mode.js';
import { track, untrack } from './registry.js';
import type { EtcdCluster, EtcdOptions, EtcdServer } from './types.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class LocalEtcdCluster implements EtcdCluster {
  readonly members: LocalEtcdServer[] = [];
  private token = clusterToken();
  // Set for a member wiped by restart({ empty: true }): it re-joins as a new member.
  private readonly rejoined = new Map<LocalEtcdServer, string>();

  get endpoints(): string[] {
    return this.members.map((member) => member.endpoint);
  }

  async create(size: number, options: EtcdOptions): Promise<void> {
    const binary = requireBinary('etcd');
    // stopAllServers() must stop the cluster as a whole (see stopMembers), not member by member.
    track(this);
    for (let i = 0; i < size; i++) {
      const member = await LocalEtcdServer.create({
        binary,
        name: `dlock-etcd-${i}`,
        extraArgs: options.args ?? [],
        readyTimeoutMs: 30_000,
        bootstrap: (self) => ({
          token: this.token,
          state: this.rejoined.has(self) ? 'existing' : 'new',
          initialCluster: () => this.rejoined.get(self) ?? this.members.map((m) => `${m.name}=${m.peerUrl}`).join(','),
        }),
        beforeEmptyStart: (self) => this.rejoin(self),
      });
      untrack(member);
      this.members.push(member);
    }
  }

  /** Starts all members together (none is healthy before a quorum is up); retries on taken ports. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await Promise.all(this.members.map((member) => member.spawn()));
      const failed = new AbortController();
      const results = await Promise.allSettled(
        this.members.map((member) =>
          member.waitReady(30_000, failed.signal).catch((error: unknown) => {
            failed.abort(error);
            throw error;
          }),
        ),
      );
      if (results.every((result) => result.status === 'fulfilled')) return;
      await Promise.all(this.members.map((member) => member.kill()));
      const error = failed.signal.reason as unknown;
      if (!(error instanceof ServerStartError && error.addressInUse) || attempt >= 4) throw error;
      // Other members were told the old ports: move every member and bootstrap a new cluster.
      this.token = clusterToken();
      for (const member of this.members) {
        await member.movePorts();
        await wipeDataDir(member.dataDir);
      }
    }
  }

  leader(): Promise<EtcdServer> {
    return findLeader(this.members);
  }

  async stop(): Promise<void> {
    try {
      await stopMembers(this.members);
    } finally {
      untrack(this);
    }
  }

  /**
   * A member whose data was wiped cannot simply start again (its peers expect its raft log):
   * remove it through a live peer, add it back, and start it with `--initial-cluster-state existing`.
   */
  private async rejoin(self: LocalEtcdServer): Promise<void> {
    const peers = this.members.filter((member) => member !== self && member.pid !== undefined);
    const deadline = Date.now() + 15_000;
    let lastError: unknown = new Error('no running peer');
    while (Date.now() < deadline) {
      for (const peer of peers) {
        try {
          const old = (await etcdMemberList(peer.port)).find((member) => member.peerURLs?.includes(self.peerUrl));
          if (old !== undefined) await etcdMemberRemove(peer.port, old.ID);
          const members = await etcdMemberAdd(peer.port, self.peerUrl);
          const initialCluster = members.map((member) => {
            const ours = this.members.find((m) => member.peerURLs?.includes(m.peerUrl));
            return `${ours?.name ?? member.name ?? member.ID}=${member.peerURLs?.[0] ?? ''}`;
          });
          this.rejoined.set(self, initialCluster.join(','));
          return;
        } catch (error) {
          lastError = error;
        }
      }
      await sleep(200);
    }
    throw new Error(`etcd ${self.name}: could not re-join the cluster after its data was wiped`, { cause: lastError });
  }
}

/**
 * Starts a `size`-member etcd cluster (default 3) on free 127.0.0.1 ports with a unique cluster
 * token and fast elections; resolves once every member reports healthy.
 */
export async function startEtcdCluster(size = 3, options: EtcdOptions = {}): Promise<EtcdCluster> {
  if (!Number.isInteger(size) || size < 1) throw new TypeError(`startEtcdCluster: size must be an integer >= 1, got ${String(size)}`);
  if ((await serverMode()) === 'docker') {
    const { startEtcdClusterContainers } = await import('./docker.js');
    return startEtcdClusterContainers(size, options);
  }
  const cluster = new LocalEtcdCluster();
  try {
    await cluster.create(size, options);
    await cluster.start();
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
  return cluster;
}
