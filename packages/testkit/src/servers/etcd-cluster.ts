import { etcdMemberAdd, etcdMemberList, etcdMemberRemove, etcdStatus, type EtcdStatus } from './etcd-api.js';
import { clusterToken, LocalEtcdServer } from './etcd-server.js';
import { wipeDataDir } from './data-dir.js';
import { ServerStartError } from './local-server.js';
import { requireBinary, serverMode } from './mode.js';
import { track, untrack } from './registry.js';
import type { EtcdCluster, EtcdOptions, EtcdServer } from './types.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The member that is leader now: asks every member for `/v3/maintenance/status` and returns the
 * one whose own id is the leader it reports (a down or paused member simply does not answer).
 * Polls while an election is under way; throws after `timeoutMs` with what each member said.
 */
export async function findLeader<T extends EtcdServer>(members: readonly T[], timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(
      members.map(async (member) => {
        try {
          return { member, status: await etcdStatus(member.port, 500) };
        } catch (error) {
          return { member, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const leaders = answers.flatMap((answer) =>
      answer.status !== undefined && isSelfLeader(answer.status) ? [{ member: answer.member, term: BigInt(answer.status.raftTerm ?? '0') }] : [],
    );
    // Right after a partition heals, a deposed leader may still claim the old term: prefer the newest.
    leaders.sort((a, b) => (a.term === b.term ? 0 : a.term > b.term ? -1 : 1));
    const leader = leaders[0];
    if (leader !== undefined) return leader.member;
    if (Date.now() >= deadline) {
      const detail = answers
        .map((answer) => `  ${answer.member.name} ${answer.member.endpoint}: ${answer.status !== undefined ? `leader=${answer.status.leader} self=${answer.status.header.member_id}` : answer.error}`)
        .join('\n');
      throw new Error(`no etcd leader among ${members.length} members after ${timeoutMs} ms:\n${detail}`);
    }
    await sleep(100);
  }
}

/**
 * Stops a whole cluster: SIGKILL every member, then stop() each (removing its data). Not
 * SIGTERM: a leader shutting down gracefully first hands leadership to a follower, and when the
 * followers are going away too it waits for a transfer that cannot finish (seconds, until the
 * SIGKILL fallback). Graceful shutdown buys nothing for data that is deleted right after.
 */
export async function stopMembers(members: readonly EtcdServer[]): Promise<void> {
  const results = await Promise.allSettled(members.map(async (member) => {
    // A member that is already stopped rejects kill(); stop() below is idempotent either way.
    await member.kill().catch(() => undefined);
    await member.stop();
  }));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

function isSelfLeader(status: EtcdStatus): boolean {
  return status.leader !== '0' && status.leader === status.header.member_id;
}

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
