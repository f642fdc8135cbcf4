import type { Pace } from '@dlock/core';
import {
  UnexpectedReplyError,
  evalScript,
  flag,
  isNoScript,
  queueScript,
  scriptSha,
  type LoadableScript,
  type ScriptArg,
} from '@dlock/redis/protocol';
import renewManyLua from './lua/renew-many.lua?raw';
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

/** Options of {@link renewBatch}. */
export interface RenewBatchOptions {
  /** Bounds each round trip (a pipeline, or a lone call): past it every renewal in it is a `RedisTimeoutError`. */
  readonly timeoutMs: number;
  /** The watchdog tick's pace: awaited between script calls while building and while reading replies. */
  readonly pace?: Pace | undefined;
  /** Most locks one `renew-many` call covers. @default {@link RENEW_MANY_CHUNK} */
  readonly chunk?: number | undefined;
}

/**
 * Most locks one `renew-many` call renews. Measured with 10,000 locks per tick on a 2-core
 * machine: fewer, larger calls cost less to build, send and parse (ioredis encodes a pipeline
 * in one synchronous `exec()`, so its size in commands is what blocks the event loop), while
 * one call holds the server for ~1 µs per lock; 200 locks per call keeps that well under 1 ms.
 */
export const RENEW_MANY_CHUNK = 200;

/**
 * On a Cluster, one script call may only touch one slot: the locks of a slot with fewer than
 * this many renewals due go as one `renew` call each (a `renew-many` call for two or three locks
 * saves little, and each pipeline sends the script's source once).
 */
export const MIN_SLOT_CHUNK = 4;

/**
 * `renew-many.lua` (see its header): KEYS lock/fence pairs; ARGV the shared lease and fence
 * keep then one token per lock, or `0 0` then a token/lease/keep triple per lock. Each call
 * passes its own number of keys (see `chunkCall`).
 */
export const renewManyScript: LoadableScript = Object.freeze({
  name: 'renew-many',
  source: renewManyLua,
  sha: scriptSha(renewManyLua),
  numberOfKeys: 0,
});

/** One script call of a batch: `count` renewals starting at `first` of the node's order. */
interface Call {
  readonly script: LoadableScript;
  readonly numberOfKeys: number;
  readonly args: readonly ScriptArg[];
  readonly first: number;
  readonly count: number;
}

/**
 * Renews every lock of a watchdog tick with as few round trips, and as few commands, as
 * possible: one pipeline for a single server; for a Cluster one pipeline per master node
 * (ioredis refuses a pipeline whose keys live on different nodes), sent in parallel. In a
 * pipeline, locks go {@link RENEW_MANY_CHUNK} at a time into one `renew-many` call; on a Cluster
 * only locks of one slot share a call, and a slot with few locks due uses `renew` per lock (so
 * does a lone lock).
 *
 * Building the pipeline and reading its replies await `pace` between calls, so a tick of
 * 10,000 locks yields to the event loop; what cannot be split is ioredis encoding the pipeline
 * in `exec()`, which is why calls cover many locks each.
 *
 * The first call of each script in a pipeline is an EVAL (the source, ~1 KB) and the rest are
 * EVALSHAs, so a server that never saw the script, or lost it in a restart, costs no extra round
 * trip; calls answered NOSCRIPT all the same (a flush mid-pipeline) are sent once more. A lone
 * call is an EVALSHA, then EVAL on NOSCRIPT.
 */
export async function renewBatch(client: RedisLockClient, renewals: readonly Renewal[], options: RenewBatchOptions): Promise<RenewResult[]> {
  const results = new Array<RenewResult>(renewals.length);
  const nodes = client.isCluster ? await groupBySlot(client, renewals, options.pace) : undefined;
  const chunk = Math.max(1, Math.floor(options.chunk ?? RENEW_MANY_CHUNK));
  const runs = nodes === undefined ? [[renewals.map((_, i) => i)]] : [...nodes.values()].map((slots) => [...slots.values()]);
  await Promise.all(runs.map((slots) => renewNode(client, renewals, slots, chunk, nodes !== undefined, options, results)));
  return results;
}

/**
 * Indexes of `renewals` by the node serving their slot (as ioredis groups a pipeline), then by
 * slot. Slots whose node is not known yet form a group of their own, which is always accepted.
 */
async function groupBySlot(client: RedisLockClient, renewals: readonly Renewal[], pace: Pace | undefined): Promise<Map<string, Map<number, number[]>>> {
  const prefix = client.options?.keyPrefix ?? '';
  const nodes = new Map<string, Map<number, number[]>>();
  for (let index = 0; index < renewals.length; index++) {
    const slot = clusterSlot(prefix + renewals[index]!.lockKey);
    const owners = client.slots?.[slot];
    const node = owners === undefined || owners.length === 0 ? `slot:${slot}` : owners.join(';');
    let slots = nodes.get(node);
    if (slots === undefined) nodes.set(node, (slots = new Map()));
    let list = slots.get(slot);
    if (list === undefined) slots.set(slot, (list = []));
    list.push(index);
    if ((index & 63) === 63) {
      const turn = pace?.();
      if (turn !== undefined) await turn;
    }
  }
  return nodes;
}

/**
 * One node's renewals in one round trip. `slots`: the renewals that may share a call (one slot
 * of a Cluster, or everything on a single server). Writes each renewal's result into `results`.
 */
async function renewNode(
  client: RedisLockClient,
  renewals: readonly Renewal[],
  slots: readonly (readonly number[])[],
  chunk: number,
  cluster: boolean,
  { timeoutMs, pace }: RenewBatchOptions,
  results: RenewResult[],
): Promise<void> {
  const order: number[] = [];
  const plan: Array<() => Call> = [];
  for (const indexes of slots) {
    for (let start = 0; start < indexes.length; start += chunk) {
      const first = order.length;
      const part = indexes.slice(start, start + chunk);
      order.push(...part);
      // A lone lock, or a Cluster slot with few locks due: the per-lock script, one call each.
      if (part.length === 1 || (cluster && part.length < MIN_SLOT_CHUNK)) {
        part.forEach((index, j) => plan.push(() => lockCall(renewals[index]!, first + j)));
      } else {
        plan.push(() => chunkCall(renewals, part, first));
      }
    }
  }
  const bound = <T>(roundTrip: Promise<T>) => withTimeout(roundTrip, timeoutMs, 'renew');
  let replies: Reply[];
  try {
    replies = await send(client, plan, bound, pace);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    for (const index of order) results[index] = e;
    return;
  }
  for (const { script, first, count, reply } of replies) {
    readReply(script, reply, count, (j, result) => {
      results[order[first + j]!] = result;
    });
    const turn = pace?.();
    if (turn !== undefined) await turn;
  }
}

/** A call's raw reply (or `Error`), with what it covered. */
interface Reply {
  readonly script: LoadableScript;
  readonly first: number;
  readonly count: number;
  readonly reply: unknown;
}

/** The per-lock `renew` call of `renewal`. */
function lockCall(renewal: Renewal, first: number): Call {
  const { lockKey, fenceKey, token, ttl, keepFence } = renewal;
  return { script: scripts.renew, numberOfKeys: 2, args: [lockKey, fenceKey, token, ttl, keepFence], first, count: 1 };
}

/** One `renew-many` call for the renewals at `indexes`: lease and fence keep once when all share them. */
function chunkCall(renewals: readonly Renewal[], indexes: readonly number[], first: number): Call {
  const { ttl, keepFence } = renewals[indexes[0]!]!;
  const shared = indexes.every((i) => renewals[i]!.ttl === ttl && renewals[i]!.keepFence === keepFence);
  const keys: ScriptArg[] = [];
  const argv: ScriptArg[] = shared ? [ttl, keepFence] : [0, 0];
  for (const i of indexes) {
    const r = renewals[i]!;
    keys.push(r.lockKey, r.fenceKey);
    if (shared) argv.push(r.token);
    else argv.push(r.token, r.ttl, r.keepFence);
  }
  return { script: renewManyScript, numberOfKeys: keys.length, args: [...keys, ...argv], first, count: indexes.length };
}

/**
 * Sends the planned calls: one lone call as EVALSHA (EVAL on NOSCRIPT), several as one pipeline
 * built in slices, with NOSCRIPT answers sent once more. Resolves each call's raw reply or
 * `Error`; rejects when a round trip failed as a whole.
 */
async function send(
  client: RedisLockClient,
  plan: ReadonlyArray<() => Call>,
  bound: <T>(roundTrip: Promise<T>) => Promise<T>,
  pace: Pace | undefined,
): Promise<Reply[]> {
  if (plan.length === 1) {
    const call = plan[0]!();
    let reply: unknown;
    try {
      reply = await bound(evalScript(client, withKeys(call), call.args));
    } catch (error) {
      // An error reply is this call's result, as in a pipeline; anything else failed the round trip.
      if (!(error instanceof Error && error.name === 'ReplyError')) throw error;
      reply = error;
    }
    return [{ ...call, reply }];
  }
  const calls: Call[] = [];
  const replies = await pipelined(client, plan.length, (i) => (calls[i] = plan[i]!()), bound, pace);
  const out = calls.map((call, i): Reply => ({ script: call.script, first: call.first, count: call.count, reply: replies[i] }));
  const missing = out.flatMap((r, i) => (isNoScript(r.reply) ? [i] : []));
  if (missing.length > 0) {
    const again = await pipelined(client, missing.length, (j) => calls[missing[j]!]!, bound, pace);
    missing.forEach((i, j) => {
      out[i] = { ...out[i]!, reply: again[j] };
    });
  }
  return out;
}

/** One pipeline of `count` calls made by `callAt`, the first of each script as EVAL; the raw replies. */
async function pipelined(
  client: RedisLockClient,
  count: number,
  callAt: (i: number) => Call,
  bound: <T>(roundTrip: Promise<T>) => Promise<T>,
  pace: Pace | undefined,
): Promise<unknown[]> {
  const pipeline = client.pipeline();
  const sent = new Set<string>();
  for (let i = 0; i < count; i++) {
    const call = callAt(i);
    queueScript(pipeline, withKeys(call), call.args, !sent.has(call.script.sha));
    sent.add(call.script.sha);
    const turn = pace?.();
    if (turn !== undefined) await turn;
  }
  const replies = await bound(pipeline.exec());
  return Array.from({ length: count }, (_, i) => {
    const entry = replies?.[i];
    return entry === undefined ? new Error('no reply to this renewal in the pipeline') : (entry[0] ?? entry[1]);
  });
}

/** The call's script with the call's own number of keys (`renew-many` takes any even number). */
function withKeys(call: Call): LoadableScript {
  return call.numberOfKeys === call.script.numberOfKeys ? call.script : { ...call.script, numberOfKeys: call.numberOfKeys };
}

/** Hands each lock's result of one call's `reply` to `put` (`j`: the lock's place in the call). */
function readReply(script: LoadableScript, reply: unknown, count: number, put: (j: number, result: RenewResult) => void): void {
  if (reply instanceof Error) {
    for (let j = 0; j < count; j++) put(j, reply);
    return;
  }
  if (script === scripts.renew) {
    put(0, parseOrError(() => scripts.renew.parse(reply)));
    return;
  }
  if (!Array.isArray(reply) || reply.length !== count) {
    const e = new UnexpectedReplyError(script.name, reply, new Error(`expected an array of ${count} elements`));
    for (let j = 0; j < count; j++) put(j, e);
    return;
  }
  for (let j = 0; j < count; j++) {
    const entry: unknown = reply[j];
    put(j, entry instanceof Error ? entry : parseOrError(() => flagOf(script, entry)));
  }
}

function flagOf(script: LoadableScript, entry: unknown): boolean {
  try {
    return flag(entry);
  } catch (error) {
    throw new UnexpectedReplyError(script.name, entry, error as Error);
  }
}

function parseOrError(parse: () => boolean): RenewResult {
  try {
    return parse();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
