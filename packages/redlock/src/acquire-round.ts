import type { AcquireResult } from '@dlock/core';
import type { RedisLockKeys } from '@dlock/redis/protocol';
import type { NodeSet } from './node-set.js';
import { count, retryAfterContention, unanswered, type Outcomes, type Refusal } from './quorum.js';
import { scripts } from './scripts.js';

/** What an acquire round needs of its Redlock. */
export interface RoundContext {
  readonly nodes: NodeSet;
  readonly fencing: 'strict' | 'none';
  /** Upper bound of the random delay after a split vote, in ms. */
  readonly retryDelay: number;
  /** A monotonic clock reading, in ms. */
  now(): number;
  /** ms of validity left for a lease of `ttl` requested at `started`. */
  validity(started: number, ttl: number): number;
  /** Holders of `key` whose release was announced. */
  releasing(key: string): ReadonlySet<string>;
}

/** One acquire attempt: the key's names on the nodes, the new holder's token and its lease. */
export interface RoundRequest {
  readonly key: string;
  readonly keys: RedisLockKeys;
  readonly token: string;
  readonly ttl: number;
}

/**
 * One Redlock acquire: `SET NX PX` on every node at once, decided at a quorum; then the fencing
 * round. Held only with a quorum and validity left; otherwise the attempt is undone on every
 * node. Rejects with a `RedlockQuorumError` when too few nodes answered to tell contention from
 * failure.
 */
export async function acquireRound(c: RoundContext, r: RoundRequest): Promise<AcquireResult<RedisLockKeys>> {
  const started = c.now();
  const { nodes } = c;
  const n = nodes.size;
  const q = nodes.quorum;
  const replies = await nodes.everywhere(scripts.acquire, [r.keys.lock, r.keys.fence, r.token, r.ttl], {
    cap: r.ttl,
    // Decided once a quorum is ours, or once enough nodes refused that it cannot be.
    decided: (known) => count(known, (x) => x.taken) >= q || count(known, (x) => !x.taken) > n - q,
  });
  const taken = replies.flatMap((x) => (x?.ok && x.value.taken ? [x.value.floor] : []));

  if (taken.length >= q) {
    const fence = await fenceRound(c, r, taken);
    if (typeof fence === 'bigint' && c.validity(started, r.ttl) > 0) return { acquired: true, fencingToken: fence, data: r.keys };
    await undo(c, r, replies);
    if (fence instanceof Error) throw fence;
    // Too slow (validity used up) or the leases ran out before fencing finished.
    return { acquired: false, retryAfter: Math.random() * c.retryDelay };
  }

  await undo(c, r, replies);
  const refusals = replies.flatMap((x) => (x?.ok && !x.value.taken ? [x.value as Refusal] : []));
  const answered = n - unanswered(replies);
  // Too few answers to tell "someone else holds it" from "the nodes are down": an error.
  if (refusals.length <= n - q && answered < q) throw nodes.quorumError('acquire', r.key, replies);
  return {
    acquired: false,
    retryAfter: retryAfterContention({
      quorum: q,
      taken: taken.length,
      refusals,
      unreachable: n - answered,
      releasing: c.releasing(r.key),
      retryDelay: c.retryDelay,
      random: Math.random,
    }),
  };
}

/**
 * The fencing round. Tokens from the acquire replies alone (max over the quorum of per-node
 * counters) would not be monotonic: counters on different nodes drift apart, and the next
 * quorum may miss the node that gave the maximum. So the chosen token is written back to a
 * quorum of nodes while we still hold the lock there; any later quorum overlaps this one in a
 * node whose counter is now >= our token, and takes max + 1 over it. (README: "Fencing tokens".)
 *
 * The token is max + 1 over the floors of the nodes taken so far (a quorum, so it overlaps the
 * previous holder's write-back quorum). The write-back goes to every node: one whose acquire
 * answered late but took the lock counts too (on each connection it runs after the acquire).
 * Resolves the token, `null` if the leases ran out first, or an error if too few answered.
 */
async function fenceRound(c: RoundContext, r: RoundRequest, floors: readonly bigint[]): Promise<bigint | null | Error> {
  if (c.fencing === 'none') return 0n;
  const q = c.nodes.quorum;
  const fence = floors.reduce((max, f) => (f > max ? f : max), 0n) + 1n;
  const raised = await c.nodes.everywhere(scripts.raise, [r.keys.lock, r.keys.fence, r.token, fence.toString()], {
    cap: r.ttl,
    decided: (known) => count(known, (ok) => ok) >= q,
  });
  if (count(raised, (ok) => ok) >= q) return fence;
  if (c.nodes.size - unanswered(raised) < q) return c.nodes.quorumError('acquire', r.key, raised);
  return null;
}

/**
 * Gives back whatever an unsuccessful attempt took, on every node. Nodes that answered are
 * awaited (so a caller sees no trace afterwards); the others are sent the release too but not
 * waited for: it queues behind the acquire on the same connection, so it runs after it.
 */
async function undo(c: RoundContext, r: RoundRequest, replies: Outcomes<unknown>): Promise<void> {
  const args = c.nodes.releaseArgs(r.keys, r.token, { announce: false, latch: false });
  await Promise.all(
    replies.map((reply, i) => {
      const done = c.nodes.run(i, scripts.release, args).catch(() => undefined);
      return reply?.ok ? done : undefined;
    }),
  );
}
