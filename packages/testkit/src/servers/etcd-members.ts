// What the local and the Docker etcd modes share about a cluster's members: the token that
// keeps clusters apart, finding the leader, stopping every member. Its own file so that the
// two modes can use it without importing each other.
import { randomUUID } from 'node:crypto';
import { etcdStatus, type EtcdStatus } from './etcd-api.js';
import type { EtcdServer } from './types.js';

/** A fresh `--initial-cluster-token`: members of different clusters must never join each other. */
export function clusterToken(): string {
  return `dlock-${process.pid}-${randomUUID().slice(0, 8)}`;
}

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
