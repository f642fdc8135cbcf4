import acquireLua from '../lua/claim-acquire.lua?raw';
import inspectLua from '../lua/claim-inspect.lua?raw';
import leaveLua from '../lua/claim-leave.lua?raw';
import libLua from '../lua/claim-lib.lua?raw';
import releaseLua from '../lua/claim-release.lua?raw';
import renewLua from '../lua/claim-renew.lua?raw';
import { EXCLUSIVE, SHARED, type Claim, type ClaimHolder } from '@dlock/core';
import { decimal, defineScript, flag, integer, text, tuple } from '@dlock/redis/protocol';

/** A claim as the scripts store it: kind `x`, `s` or `p`, permits and limit (`0` unless `p`). */
export type ClaimArgs = readonly [kind: 'x' | 's' | 'p', permits: number, limit: number];

/** `claim-acquire.lua`: holders, queue, claims, fence; token, ttl, claim, waiting, place ms, fence keep, channel. */
export type ClaimAcquireArgs = readonly [
  holders: string,
  queue: string,
  claims: string,
  fence: string,
  token: string,
  ttl: number,
  kind: 'x' | 's' | 'p',
  permits: number,
  limit: number,
  waiting: 0 | 1,
  placeMs: number,
  keepFence: number,
  channel: string,
];

/** What `claim-acquire.lua` answered. */
export type ClaimAcquireReply =
  | { readonly outcome: 'admitted'; readonly fencingToken: bigint }
  | { readonly outcome: 'wait'; readonly retryAfter: number }
  | { readonly outcome: 'limit'; readonly currentLimit: number };

/**
 * What `claim-release.lua` answered: `released` with the tokens of the waiters the key admits
 * now (named on the key's channel too); `released-before` when a run of the same release did it
 * (a copy re-sent after a reconnect: whom it admitted is not known any more); `not-held`.
 */
export type ClaimReleaseReply =
  | { readonly outcome: 'released'; readonly admitted: readonly string[] }
  | { readonly outcome: 'released-before' }
  | { readonly outcome: 'not-held' };

/** What `claim-leave.lua` answered: the place was there and is gone (with the waiters the key admits now), or there was none. */
export type ClaimLeaveReply = { readonly left: true; readonly admitted: readonly string[] } | { readonly left: false };

/** `claim-inspect.lua`: callers waiting, and each live holder's full token with its claim. */
export interface ClaimInspectReply {
  readonly waiting: number;
  readonly holders: ReadonlyArray<ClaimHolder & { readonly token: string }>;
}

/** The claim `c` as the scripts' arguments. */
export function claimArgs(c: Claim): ClaimArgs {
  if (c.kind === 'permits') return ['p', c.permits, c.limit];
  return c.kind === 'shared' ? ['s', 0, 0] : ['x', 0, 0];
}

/** A stored claim (`'p 2 5 <fence>'`) back as a claim and its fencing token. */
export function parseStoredClaim(stored: string): { claim: Claim; fence: bigint } {
  const match = /^([xsp]) (\d+) (\d+) (\d+)$/.exec(stored);
  if (match === null) throw new Error(`claim: expected '<kind> <permits> <limit> <fence>', got ${JSON.stringify(stored)}`);
  const [, kind, permits, limit, fence] = match;
  const claim: Claim = kind === 'x' ? EXCLUSIVE : kind === 's' ? SHARED : Object.freeze({ kind: 'permits', permits: Number(permits), limit: Number(limit) });
  return { claim, fence: BigInt(fence!) };
}

/** `{n, token, token, ...}`: the outcome `n` and the tokens behind it. */
function outcomeAndTokens(reply: unknown): { outcome: number; tokens: string[] } {
  if (!Array.isArray(reply) || reply.length === 0) throw new Error('expected an array of 1 or more elements');
  return { outcome: integer(reply[0], 'outcome'), tokens: reply.slice(1).map((t: unknown) => text(t, 'token')) };
}

/**
 * The typed scripts of Redis read-write locks and semaphores (sources in `src/lua/claim-*.lua`;
 * acquire, release and leave run after `claim-lib.lua`, the counts and wait-list code they share).
 */
export const claimScripts = Object.freeze({
  acquire: defineScript<ClaimAcquireArgs, ClaimAcquireReply>({
    name: 'claim-acquire',
    source: `${libLua}\n${acquireLua}`,
    keys: 4,
    parse: (reply) => {
      const [outcome, value] = tuple(reply, 2);
      const n = integer(outcome, 'outcome');
      if (n === 1) return { outcome: 'admitted', fencingToken: decimal(value, 'fence') };
      if (n === 0) return { outcome: 'wait', retryAfter: integer(value, 'retryAfter') };
      if (n === 2) return { outcome: 'limit', currentLimit: integer(value, 'limit') };
      throw new Error(`outcome: expected 0, 1 or 2, got ${n}`);
    },
  }),
  release: defineScript<
    readonly [holders: string, queue: string, claims: string, latch: string, token: string, channel: string, message: string, latchMs: number],
    ClaimReleaseReply
  >({
    name: 'claim-release',
    source: `${libLua}\n${releaseLua}`,
    keys: 4,
    parse: (reply) => {
      const { outcome, tokens } = outcomeAndTokens(reply);
      if (outcome === 1) return { outcome: 'released', admitted: tokens };
      if (outcome === 2 && tokens.length === 0) return { outcome: 'released-before' };
      if (outcome === 0 && tokens.length === 0) return { outcome: 'not-held' };
      throw new Error(`expected {1, tokens...}, {2} or {0}, got outcome ${outcome} with ${tokens.length} tokens`);
    },
  }),
  renew: defineScript<readonly [holders: string, queue: string, claims: string, fence: string, token: string, ttl: number, keepFence: number], boolean>({
    name: 'claim-renew',
    source: renewLua,
    keys: 4,
    parse: (reply) => flag(reply),
  }),
  leave: defineScript<readonly [holders: string, queue: string, claims: string, token: string, channel: string, message: string], ClaimLeaveReply>({
    name: 'claim-leave',
    source: `${libLua}\n${leaveLua}`,
    keys: 3,
    parse: (reply) => {
      const { outcome, tokens } = outcomeAndTokens(reply);
      if (outcome === 1) return { left: true, admitted: tokens };
      if (outcome === 0 && tokens.length === 0) return { left: false };
      throw new Error(`expected {1, tokens...} or {0}, got outcome ${outcome} with ${tokens.length} tokens`);
    },
  }),
  inspect: defineScript<readonly [holders: string, queue: string, claims: string], ClaimInspectReply>({
    name: 'claim-inspect',
    source: inspectLua,
    keys: 3,
    parse: (reply) => {
      if (!Array.isArray(reply) || reply.length % 3 !== 1) throw new Error('expected an array of 1 + 3n elements');
      const holders: Array<ClaimHolder & { token: string }> = [];
      for (let i = 1; i < reply.length; i += 3) {
        const token = text(reply[i], 'token');
        const { claim, fence } = parseStoredClaim(text(reply[i + 1], 'claim'));
        holders.push({ token, holder: token.slice(0, 8), claim, ttlRemaining: Math.max(0, integer(reply[i + 2], 'pttl')), fencingToken: fence });
      }
      return { waiting: integer(reply[0], 'waiting'), holders };
    },
  }),
});
