import { InvalidOptionError, type LockEngineOptions } from '@dlock/core';

/**
 * Options of {@link Redlock}: the engine's (`defaultTtl`, `maxRetryDelay`, `clock`,
 * `unavailableTimeout`) and Redlock's own; every field is validated in the constructor.
 * Redlock does not hand a lock over to a local waiter, so `maxLocalHandOvers` is not one.
 */
export interface RedlockOptions extends LockEngineOptions {
  /**
   * Prefix of every Redis key and channel (`<prefix>:{<key>}`), the same layout as `@dlock/redis`.
   * @default 'dlock'
   * @example `{ prefix: 'billing-locks' }`
   */
  prefix?: string;
  /**
   * How long one node may take to answer one command, in ms. A node slower than this counts as
   * failed for that operation, so a stopped or partitioned node costs at most this much. Keep it
   * far below the TTL (the Redlock paper: a few ms to tens of ms for a 10 s TTL).
   * @default 100
   * @example `{ nodeTimeout: 50 }`
   */
  nodeTimeout?: number;
  /**
   * Share of the TTL subtracted from validity for clock drift between nodes and this process:
   * validity = ttl - elapsed - (ttl * driftFactor + driftMs).
   * @default 0.01
   * @example `{ driftFactor: 0.02 }`
   */
  driftFactor?: number;
  /**
   * Fixed part of the drift allowance, in ms (timer and clock granularity).
   * @default 2
   * @example `{ driftMs: 5 }`
   */
  driftMs?: number;
  /**
   * After an attempt that failed without anyone holding a quorum (two clients split the nodes,
   * or a release was still on its way), `lock()` retries after a random delay in
   * `[0, retryDelay]` ms, so that rivals do not collide again.
   * @default 50
   * @example `{ retryDelay: 200 }`
   */
  retryDelay?: number;
  /**
   * `'strict'`: fencing tokens strictly increase per key, by a second round trip to the quorum
   * (see the README for the protocol and its assumptions). `'none'`: one round trip less, and
   * every `fencingToken` is `0n`.
   * @default 'strict'
   * @example `{ fencing: 'none' }`
   */
  fencing?: 'strict' | 'none';
}

/**
 * The defaults of {@link RedlockOptions}.
 * @example
 * ```ts
 * new Redlock(nodes, { nodeTimeout: defaultRedlockOptions.nodeTimeout * 2 });
 * ```
 */
export const defaultRedlockOptions = Object.freeze({
  prefix: 'dlock',
  nodeTimeout: 100,
  driftFactor: 0.01,
  driftMs: 2,
  retryDelay: 50,
  fencing: 'strict' as 'strict' | 'none',
});

/** Names of Redlock's own options (the engine's are added to them). */
export const redlockOptionNames: readonly string[] = Object.freeze(['prefix', 'nodeTimeout', 'driftFactor', 'driftMs', 'retryDelay', 'fencing']);

export type ResolvedRedlockOptions = typeof defaultRedlockOptions;

/** Fills in defaults and validates; throws `InvalidOptionError` naming the bad value. */
export function resolveRedlockOptions(options: RedlockOptions): ResolvedRedlockOptions {
  const d = defaultRedlockOptions;
  const o = { ...d, ...definedOnly(options) };
  if (typeof o.prefix !== 'string' || o.prefix.length === 0) {
    throw new InvalidOptionError('prefix', 'a non-empty string', o.prefix);
  }
  number(o.nodeTimeout, 'nodeTimeout', (v) => v > 0, 'a finite number > 0 (milliseconds)');
  number(o.driftFactor, 'driftFactor', (v) => v >= 0 && v < 1, 'a finite number >= 0 and < 1');
  number(o.driftMs, 'driftMs', (v) => v >= 0, 'a finite number >= 0 (milliseconds)');
  number(o.retryDelay, 'retryDelay', (v) => v >= 0, 'a finite number >= 0 (milliseconds)');
  if (o.fencing !== 'strict' && o.fencing !== 'none') {
    throw new InvalidOptionError('fencing', "'strict' or 'none'", o.fencing);
  }
  return {
    prefix: o.prefix,
    nodeTimeout: o.nodeTimeout,
    driftFactor: o.driftFactor,
    driftMs: o.driftMs,
    retryDelay: o.retryDelay,
    fencing: o.fencing,
  };
}

function number(value: unknown, option: string, ok: (v: number) => boolean, expectation: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new InvalidOptionError(option, expectation, value);
  }
}

function definedOnly(options: RedlockOptions): Partial<ResolvedRedlockOptions> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as Partial<ResolvedRedlockOptions>;
}
