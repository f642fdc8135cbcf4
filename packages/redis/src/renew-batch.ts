import { clusterSlot } from './cluster-slot.js';
import { scripts } from './scripts.js';
import { withTimeout } from './timeout.js';
import type { RedisLockClient } from './types.js';

/** One renewal of a watchdog tick. */
export interface Renewal {
  /** The Redis lock key (`<prefix>:{<tag>}`). */
  readonly lockKey: string;
  /** The key's fence counter (`<prefix>:{<tag>}:fence`), kept alive with the lock. */
  readonly fenceKey: string;
  readonly token: string;
  readonly ttl: number;
  /** How long the fence counter is kept from now, in ms (the lease plus the fence retention). */
  readonly keepFence: number;
}

/** Per renewal: `true` renewed, `false` lost (not ours any more), an `Error` when unknown. */
export type RenewResult = boolean | Error;

/**
 * Renews every lock of a watchdog tick with as few round trips as possible: one pipeline for a
 * single server; for a Cluster one pipeline per master node (ioredis refuses a pipeline whose
 * keys live on different nodes), sent in parallel. Each pipeline is bounded by `timeoutMs`.
 *
 * A pipeline opens with one EVAL (the script source, ~1 KB) and continues with EVALSHAs (see
 * `evalScriptMany` in `protocol/loader.ts`), so a server that never saw the script, or lost it
 * in a restart, costs no extra round trip.
 */
export async function renewBatch(client: RedisLockClient, renewals: readonly Renewal[], timeoutMs: number): Promise<RenewResult[]> {
  const groups = client.isCluster ? groupByNode(client, renewals) : [renewals.map((_, i) => i)];
  const results: RenewResult[] = new Array<RenewResult>(renewals.length);
  await Promise.all(
    groups.map(async (indexes) => {
      const groupResults = await renewPipeline(client, indexes.map((i) => renewals[i]!), timeoutMs);
      indexes.forEach((index, j) => {
        results[index] = groupResults[j] ?? new Error('no reply for this renewal');
      });
    }),
  );
  return results;
}

/** Indexes of `renewals`, grouped by the nodes serving their slots (as ioredis groups them). */
function groupByNode(client: RedisLockClient, renewals: readonly Renewal[]): number[][] {
  const prefix = client.options?.keyPrefix ?? '';
  const groups = new Map<string, number[]>();
  renewals.forEach((renewal, index) => {
    const slot = clusterSlot(prefix + renewal.lockKey);
    const nodes = client.slots?.[slot];
    // Slots not known yet: one group per slot is always accepted.
    const group = nodes === undefined || nodes.length === 0 ? `slot:${slot}` : nodes.join(';');
    let list = groups.get(group);
    if (list === undefined) groups.set(group, (list = []));
    list.push(index);
  });
  return [...groups.values()];
}

/**
 * One node's renewals in one round trip through the protocol's loader: one EVAL then EVALSHAs
 * (a lone renewal is a plain EVALSHA), NOSCRIPT answers sent again, bounded by `timeoutMs`.
 */
async function renewPipeline(client: RedisLockClient, renewals: readonly Renewal[], timeoutMs: number): Promise<RenewResult[]> {
  const calls = renewals.map((r) => [r.lockKey, r.fenceKey, r.token, r.ttl, r.keepFence] as const);
  try {
    return await scripts.renew.runMany(client, calls, { bound: (roundTrip) => withTimeout(roundTrip, timeoutMs, 'renew') });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return calls.map(() => e);
  }
}
