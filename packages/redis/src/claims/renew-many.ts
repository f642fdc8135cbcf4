import type { HeldLock } from '@dlock/core';
import { clusterSlot } from '../cluster-slot.js';
import { withTimeout } from '../timeout.js';
import type { RedisLockClient } from '../types.js';
import type { RedisClaimKeys } from './keys.js';
import { claimScripts } from './scripts.js';

/**
 * Renews every claim of a watchdog tick in as few round trips as possible: one pipeline on a
 * single server, one per master node on a Cluster (a pipeline must stay on one node), sent in
 * parallel and each bounded by `timeoutMs`. Per claim: `true` renewed, `false` lost, or the
 * `Error` when unknown.
 */
export async function renewClaims(
  client: RedisLockClient,
  locks: readonly HeldLock<RedisClaimKeys>[],
  keepFence: (ttl: number) => number,
  timeoutMs: number,
): Promise<Array<boolean | Error>> {
  const results = new Array<boolean | Error>(locks.length);
  await Promise.all(
    groupByNode(client, locks).map(async (indexes) => {
      const calls = indexes.map((i) => {
        const { data: k, token, ttl } = locks[i]!;
        return [k.holders, k.queue, k.claims, k.fence, token, ttl, keepFence(ttl)] as const;
      });
      let replies: Array<boolean | Error>;
      try {
        replies = await claimScripts.renew.runMany(client, calls, { bound: (trip) => withTimeout(trip, timeoutMs, 'renew') });
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        replies = calls.map(() => e);
      }
      indexes.forEach((index, j) => {
        results[index] = replies[j] ?? new Error('no reply for this renewal');
      });
    }),
  );
  return results;
}

/** Indexes of `locks` grouped by the Cluster node serving their slot (one group on a single server). */
function groupByNode(client: RedisLockClient, locks: readonly HeldLock<RedisClaimKeys>[]): number[][] {
  if (!client.isCluster) return [locks.map((_, i) => i)];
  const prefix = client.options?.keyPrefix ?? '';
  const groups = new Map<string, number[]>();
  locks.forEach((lock, index) => {
    const slot = clusterSlot(prefix + lock.data.holders);
    const nodes = client.slots?.[slot];
    // Slots not known yet: one group per slot is always accepted.
    const group = nodes === undefined || nodes.length === 0 ? `slot:${slot}` : nodes.join(';');
    let list = groups.get(group);
    if (list === undefined) groups.set(group, (list = []));
    list.push(index);
  });
  return [...groups.values()];
}
