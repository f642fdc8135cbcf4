import acquireLua from './lua/acquire.lua?raw';
import fairAcquireLua from './lua/fair-acquire.lua?raw';
import fairLeaveLua from './lua/fair-leave.lua?raw';
import fairReleaseLua from './lua/fair-release.lua?raw';
import fenceLua from './lua/fence-lib.lua?raw';
import inspectLua from './lua/inspect.lua?raw';
import renewLua from './lua/renew.lua?raw';
import {
  decimal,
  defineScript,
  evalScript,
  flag,
  integer,
  queueScript,
  releaseScript,
  scriptSha,
  text,
  tuple,
  type LoadableScript,
  type ScriptArg,
  type ScriptClient,
  type ScriptPipeline,
} from '@dlock/redis/protocol';

/** `acquire.lua`: lock, fence, token, ttl, fence keep (ttl + retention), and for a hand-over the holder's token. */
export type AcquireArgs =
  | readonly [lock: string, fence: string, token: string, ttl: number, keepFence: number]
  | readonly [lock: string, fence: string, token: string, ttl: number, keepFence: number, holder: string];

/** What `acquire.lua` answered: the new fencing token, or the ms left on the holder's lease. */
export type AcquireReply = { readonly acquired: true; readonly fencingToken: bigint } | { readonly acquired: false; readonly pttl: number };

/**
 * `fair-acquire.lua`: lock; token, ttl, fence keep, waiting (1/0), place ms, placed (1: the caller
 * was refused before and may have a place; 0: its first attempt). The fence counter and the wait
 * list are named after the lock key in the script.
 */
export type FairAcquireArgs = readonly [
  lock: string,
  token: string,
  ttl: number,
  keepFence: number,
  waiting: 0 | 1,
  placeMs: number,
  placed: 0 | 1,
];

/** What `fair-acquire.lua` answered: the new fencing token, or ms until the caller should try again. */
export type FairAcquireReply = { readonly acquired: true; readonly fencingToken: bigint } | { readonly acquired: false; readonly retryAfter: number };

/**
 * The key and arguments every `fair-release.lua` call has: lock; token, instance id, latch ms,
 * place ms (the channel, latch, fence counter and wait list are named after the lock key).
 */
type FairReleaseBase = readonly [
  lock: string,
  token: string,
  instanceId: string,
  latchMs: number,
  placeMs: number,
];

/**
 * `fair-release.lua`: a release, or (with taker, ttl, fence keep) a hand-over to a waiter first in
 * line; with `turn` 1, to the taker wherever it stands (it is in the holder's instance's turn).
 */
export type FairReleaseArgs =
  | FairReleaseBase
  | readonly [...FairReleaseBase, taker: string, ttl: number, keepFence: number]
  | readonly [...FairReleaseBase, taker: string, ttl: number, keepFence: number, turn: 0 | 1];

/** What `fair-release.lua` answered. */
export type FairReleaseReply =
  /** Handed over to the taker, with its new fencing token. */
  | { readonly outcome: 'handed-over'; readonly fencingToken: bigint }
  /** Released; `next`: the token of the first waiter, `undefined` when nobody waits. */
  | { readonly outcome: 'released'; readonly next: string | undefined }
  /** The lock was not held by the token. */
  | { readonly outcome: 'not-held' };

/** `inspect.lua`: the holder's full token, the ms left on its lease and its fencing token; `null` when free. */
export type InspectReply = { readonly token: string; readonly pttl: number; readonly fence: bigint } | null;

/** The typed scripts of the Redis lock protocol (sources in `src/lua/*.lua`, release in `src/protocol/lua/`). */
export const scripts = Object.freeze({
  acquire: defineScript<AcquireArgs, AcquireReply>({
    name: 'acquire',
    source: `${fenceLua}\n${acquireLua}`,
    keys: 2,
    parse: (reply) => {
      const [taken, value] = tuple(reply, 2);
      return flag(taken, 'acquired')
        ? { acquired: true, fencingToken: decimal(value, 'fence') }
        : { acquired: false, pttl: integer(value, 'pttl') };
    },
  }),
  release: releaseScript,
  fairAcquire: defineScript<FairAcquireArgs, FairAcquireReply>({
    name: 'fair-acquire',
    source: `${fenceLua}\n${fairAcquireLua}`,
    keys: 1,
    parse: (reply) => {
      const [taken, value] = tuple(reply, 2);
      return flag(taken, 'acquired')
        ? { acquired: true, fencingToken: decimal(value, 'fence') }
        : { acquired: false, retryAfter: integer(value, 'retryAfter') };
    },
  }),
  fairRelease: defineScript<FairReleaseArgs, FairReleaseReply>({
    name: 'fair-release',
    source: `${fenceLua}\n${fairReleaseLua}`,
    keys: 1,
    parse: (reply) => {
      const [outcome, value] = tuple(reply, 2);
      const code = integer(outcome, 'outcome');
      if (code === 2) return { outcome: 'handed-over', fencingToken: decimal(value, 'fence') };
      if (code === 0) return { outcome: 'not-held' };
      if (code !== 1) throw new Error(`outcome: expected 0, 1 or 2, got ${code}`);
      const first = text(value, 'next');
      return { outcome: 'released', next: first === '' ? undefined : first };
    },
  }),
  fairLeave: defineScript<
    readonly [lock: string, waiters: string, places: string, token: string, channel: string, instanceId: string, placeMs: number],
    string | undefined
  >({
    name: 'fair-leave',
    source: fairLeaveLua,
    keys: 3,
    parse: (reply) => {
      const next = text(reply, 'next');
      return next === '' ? undefined : next;
    },
  }),
  renew: defineScript<readonly [lock: string, fence: string, token: string, ttl: number, keepFence: number], boolean>({
    name: 'renew',
    source: renewLua,
    keys: 2,
    parse: (reply) => flag(reply),
  }),
  inspect: defineScript<readonly [lock: string, fence: string], InspectReply>({
    name: 'inspect',
    source: inspectLua,
    keys: 2,
    parse: (reply) => {
      if (reply === null || reply === undefined) return null;
      const [token, pttl, fence] = tuple(reply, 3);
      return { token: text(token, 'token'), pttl: integer(pttl, 'pttl'), fence: decimal(fence, 'fence') };
    },
  }),
});

/**
 * A Lua script called by EVALSHA, with EVAL as the fallback when the server does not have it
 * cached (first use, restart, SCRIPT FLUSH, a new Cluster node); EVAL caches it again. Unlike
 * ioredis `defineCommand` this leaves the caller's client untouched, and works the same for a
 * single call, a pipeline and a Cluster. Replies are returned as the server gave them (dlock
 * itself runs these scripts with typed, parsed replies, through the same loader).
 *
 * @example
 * ```ts
 * const ping = new LuaScript('ping', "return redis.call('PING')", 0);
 * await ping.run(client, []); // 'PONG': EVALSHA, or EVAL the first time
 * ```
 */
export class LuaScript implements LoadableScript {
  /** SHA1 of the source: what EVALSHA sends instead of the script. */
  readonly sha: string;

  constructor(
    /** Short name used in errors (`acquire`, `release`, ...). */
    readonly name: string,
    /** The Lua source. */
    readonly source: string,
    /** How many leading arguments are KEYS (the rest are ARGV). */
    readonly numberOfKeys: number,
  ) {
    this.sha = scriptSha(source);
  }

  /** Runs the script once on `client`; resolves the raw reply. */
  run(client: ScriptClient, args: readonly ScriptArg[]): Promise<unknown> {
    return evalScript(client, this, args);
  }

  /** Queues an EVALSHA on `pipeline`. */
  queue(pipeline: ScriptPipeline, args: readonly ScriptArg[]): void {
    queueScript(pipeline, this, args);
  }

  /** Queues an EVAL (sends the source; the server caches it for later EVALSHAs). */
  queueSource(pipeline: ScriptPipeline, args: readonly ScriptArg[]): void {
    queueScript(pipeline, this, args, true);
  }
}

const untyped = (script: LoadableScript): LuaScript => new LuaScript(script.name, script.source, script.numberOfKeys);

/**
 * The scripts of the Redis lock protocol (sources in `src/lua/*.lua`, and
 * `src/protocol/lua/release.lua`), as {@link LuaScript}s with raw replies. Exported so other
 * programs can speak the same protocol: same key names ({@link redisLockKeys}), same scripts.
 *
 * @example
 * ```ts
 * const { lock, fence } = redisLockKeys('dlock', 'job');
 * const [acquired, fenceOrPttl] = await client.eval(redisLockScripts.acquire.source, 2, lock, fence, token, 30_000, 3_630_000);
 * ```
 */
export const redisLockScripts = Object.freeze({
  /**
   * KEYS: lock, fence. ARGV: token, ttl, fence keep (ttl + retention), and for a hand-over the
   * current holder's token. Returns `{1, fence}` or `{0, pttl}`.
   */
  acquire: untyped(scripts.acquire),
  /**
   * KEYS: lock, release latch (`releaseLatchKey`). ARGV: token, channel (`''`: publish
   * nothing), message, latch ms (`0`: no latch). Returns 1 (deleted and published, or already
   * released by this token) or 0 (not held).
   */
  release: untyped(scripts.release),
  /**
   * The fair acquire (`fair: true`, the default). KEYS: lock, fence, wait list, places
   * (`redisWaitListKeys`). ARGV: token, ttl, fence keep, waiting (1/0), place ms. Returns
   * `{1, fence}` or `{0, retryAfter}`.
   */
  fairAcquire: untyped(scripts.fairAcquire),
  /**
   * The fair release. KEYS: lock, release latch, wait list, places, fence. ARGV: token, channel,
   * message (the releasing instance's id; the first waiter's token is appended), latch ms, place
   * ms (the longest the first waiter's place is kept from now), and for a hand-over the taker's
   * token, ttl and fence keep. Returns `{2, fence}` (handed over), `{1, first waiter's token or
   * ''}` (released) or `{0, ''}` (not held).
   */
  fairRelease: untyped(scripts.fairRelease),
  /**
   * A fair waiter gives up. KEYS: lock, wait list, places. ARGV: token, channel, message, place ms. Returns
   * the token of the waiter now first in line when it was told, else `''`.
   */
  fairLeave: untyped(scripts.fairLeave),
  /** KEYS: lock, fence. ARGV: token, ttl, fence keep (ttl + retention). Returns 1 (extended) or 0 (lost). */
  renew: untyped(scripts.renew),
  /** KEYS: lock, fence. Returns nil or `{token, pttl, fence}`. */
  inspect: untyped(scripts.inspect),
});
