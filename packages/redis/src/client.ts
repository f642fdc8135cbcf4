import { InvalidOptionError } from '@dlock/core';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisLockClient } from './types.js';

/**
 * Options `RedisLock` sets on a client it creates itself (the caller's options win). They keep
 * an outage short and visible: reconnect quickly (at most 1 s apart instead of ioredis's 5 s),
 * and fail queued commands after two failed reconnects rather than holding them (each call is
 * also bounded by `operationTimeout`). A client you pass in is used exactly as you built it.
 *
 * @example
 * ```ts
 * // The same behaviour for a client you create yourself:
 * const client = new Redis({ ...ownedClientDefaults, host: 'redis.internal' });
 * ```
 */
export const ownedClientDefaults: Readonly<RedisOptions> = Object.freeze({
  // ioredis's default backs off to 5 s between attempts: a lock service wants to be back sooner.
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** (attempt - 1), 1_000) + Math.floor(Math.random() * 50),
  maxRetriesPerRequest: 1,
  // close() of a lock whose server never answered should not hold the process for ioredis's 2 s.
  disconnectTimeout: 100,
});

/** Whether `value` looks like a client (has the methods we call) rather than options. */
export function isClient(value: unknown): value is RedisLockClient {
  const v = value as Partial<RedisLockClient> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.evalsha === 'function' &&
    typeof v.pipeline === 'function' &&
    typeof v.duplicate === 'function'
  );
}

/**
 * The client to use, and whether `RedisLock` owns it (created it, so closes it). A client is
 * used as given; options or a `redis://` URL create a new ioredis `Redis`.
 */
export function resolveClient(input: unknown): {
  client: RedisLockClient;
  owned: boolean;
  /** The error of the last failed connection attempt while not connected (owned clients only). */
  lastConnectionError: () => Error | undefined;
} {
  if (isClient(input)) return { client: input, owned: false, lastConnectionError: () => undefined };
  let client: Redis;
  if (typeof input === 'string') {
    client = new Redis(input, { ...ownedClientDefaults });
  } else if (typeof input === 'object' && input !== null) {
    client = new Redis({ ...ownedClientDefaults, ...(input as RedisOptions) });
  } else {
    throw new InvalidOptionError('client', 'an ioredis Redis or Cluster client, ioredis options, or a redis:// URL', input);
  }
  // Connection errors reach callers as failed operations; without a listener ioredis would
  // also print every reconnect failure. The last one is kept: ioredis fails the queued command
  // with "max retries per request", which hides why (ECONNREFUSED, ENOTFOUND, auth...).
  let last: Error | undefined;
  client.on('error', (error: Error) => {
    last = error;
  });
  client.on('ready', () => {
    last = undefined;
  });
  return { client, owned: true, lastConnectionError: () => last };
}

const connecting = new Set(['connecting', 'connect', 'reconnecting', 'close']);

/**
 * Resolves once `client` is connected (or no longer trying: `ready`, `wait`, `end`), or after
 * `timeoutMs`. Used after a subscriber reconnect, when the command connection is likely to be
 * reconnecting too.
 */
export async function whenConnected(client: { readonly status: string }, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (connecting.has(client.status) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
