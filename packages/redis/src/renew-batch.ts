import { clusterSlot } from './cluster-slot.js';
import { parseFlag } from './replies.js';
import { isNoScript, redisLockScripts } from './scripts.js';
import { withTimeout } from './timeout.js';
import type { RedisLockClient, ScriptArg } from './types.js';

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
 * A pipeline opens with one EVAL (the script source, ~1 KB) and continues with EVALSHAs: the
 * EVAL puts the script in the node's cache before the EVALSHAs behind it run, so a server that
 * never saw the script, or lost it in a restart, costs no extra round trip.
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

async function renewPipeline(client: RedisLockClient, renewals: readonly Renewal[], timeoutMs: number): Promise<RenewResult[]> {
  const args = renewals.map((r): ScriptArg[] => [r.lockKey, r.fenceKey, r.token, r.ttl, r.keepFence]);
  if (args.length === 1) return [await renewOne(client, args[0]!, timeoutMs)];
  const results = await execPipeline(client, args, timeoutMs);
  // Only if the cache was flushed in the middle of the pipeline: send those again.
  const missing = results.flatMap((r, i) => (r instanceof Error && isNoScript(r) ? [i] : []));
  if (missing.length > 0) {
    const retried = await execPipeline(client, missing.map((i) => args[i]!), timeoutMs);
    missing.forEach((index, j) => {
      results[index] = retried[j] ?? new Error('no reply for this renewal');
    });
  }
  return results;
}

async function execPipeline(
  client: RedisLockClient,
  args: readonly ScriptArg[][],
  timeoutMs: number,
): Promise<RenewResult[]> {
  const pipeline = client.pipeline();
  args.forEach((a, i) => {
    if (i === 0) redisLockScripts.renew.queueSource(pipeline, a);
    else redisLockScripts.renew.queue(pipeline, a);
  });
  let replies: Array<[Error | null, unknown]> | null;
  try {
    replies = await withTimeout(pipeline.exec(), timeoutMs, 'renew');
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return args.map(() => e);
  }
  return args.map((_, i): RenewResult => {
    const entry = replies?.[i];
    if (entry === undefined) return new Error('no reply for this renewal');
    const [error, reply] = entry;
    if (error !== null) return error;
    try {
      return parseFlag('renew', reply);
    } catch (e) {
      return e as Error;
    }
  });
}

/** A lone renewal: EVALSHA (EVAL only if the script is not cached), no pipeline. */
async function renewOne(client: RedisLockClient, args: readonly ScriptArg[], timeoutMs: number): Promise<RenewResult> {
  try {
    return parseFlag('renew', await withTimeout(redisLockScripts.renew.run(client, args), timeoutMs, 'renew'));
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
