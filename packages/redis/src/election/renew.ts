import { clusterSlot } from '../cluster-slot.js';
import { withTimeout } from '../timeout.js';
import type { RedisLockClient } from '../types.js';
import type { ElectionKeys } from './keys.js';
import { electionScripts } from './scripts.js';

/** One leadership of a watchdog tick. */
export interface LeadershipRenewal {
  readonly keys: ElectionKeys;
  readonly token: string;
  readonly ttl: number;
  readonly keepCounter: number;
}

/**
 * Renews every leadership of a watchdog tick in one pipeline per server (per master node on a
 * Cluster, sent in parallel), each bounded by `timeoutMs`. Per leadership: renewed, lost, or the
 * error of its round trip.
 */
export async function renewLeaderships(client: RedisLockClient, renewals: readonly LeadershipRenewal[], timeoutMs: number): Promise<Array<boolean | Error>> {
  const results = new Array<boolean | Error>(renewals.length);
  await Promise.all(
    groups(client, renewals).map(async (indexes) => {
      const calls = indexes.map((i) => {
        const r = renewals[i]!;
        return [r.keys.leader, r.keys.counter, r.token, r.ttl, r.keepCounter] as const;
      });
      let replies: Array<boolean | Error>;
      try {
        replies = await electionScripts.renew.runMany(client, calls, { bound: (roundTrip) => withTimeout(roundTrip, timeoutMs, 'renew') });
      } catch (error) {
        replies = calls.map(() => (error instanceof Error ? error : new Error(String(error))));
      }
      indexes.forEach((index, j) => (results[index] = replies[j] ?? new Error('no reply for this renewal')));
    }),
  );
  return results;
}

/** Indexes of `renewals` grouped by the node serving their slot (one group without a Cluster). */
function groups(client: RedisLockClient, renewals: readonly LeadershipRenewal[]): number[][] {
  if (!client.isCluster) return [renewals.map((_, i) => i)];
  const prefix = client.options?.keyPrefix ?? '';
  const byNode = new Map<string, number[]>();
  renewals.forEach((renewal, index) => {
    const slot = clusterSlot(prefix + renewal.keys.leader);
    const nodes = client.slots?.[slot];
    const group = nodes === undefined || nodes.length === 0 ? `slot:${slot}` : nodes.join(';');
    let list = byNode.get(group);
    if (list === undefined) byNode.set(group, (list = []));
    list.push(index);
  });
  return [...byNode.values()];
}
