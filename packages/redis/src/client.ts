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

/** What {@link resolveClient} returns: the client, who owns it, and its connection-error record. */
export interface ResolvedClient {
  client: RedisLockClient;
  /** Whether `RedisLock` created the client (and so closes it). */
  owned: boolean;
  /**
   * The error of the last failed connection attempt, until the client is `ready` again;
   * `undefined` while connected, or for a client without `on`/`off` (a custom wrapper).
   */
  lastConnectionError: () => Error | undefined;
  /**
   * Removes the listeners `resolveClient` added to a client the lock does not own (idempotent).
   * An owned client keeps them: it is being closed anyway.
   */
  dispose: () => void;
}

/**
 * The client to use, and whether `RedisLock` owns it (created it, so closes it). A client is
 * used as given; options or a `redis://` URL create a new ioredis `Redis`.
 *
 * Either way the client's `error` events are recorded, so that a failed operation can name
 * the connection error behind it (ioredis itself only reports "max retries per request", or
 * the command times out). On a client passed in, this listener also means ioredis no longer
 * prints "[ioredis] Unhandled error event" for it; the README asks users to attach their own.
 */
export function resolveClient(input: unknown): ResolvedClient {
  if (isClient(input)) {
    const tracked = trackConnectionErrors(input);
    return { client: input, owned: false, lastConnectionError: tracked.last, dispose: tracked.dispose };
  }
  let client: Redis;
  if (typeof input === 'string') {
    client = new Redis(input, { ...ownedClientDefaults });
  } else if (typeof input === 'object' && input !== null) {
    client = new Redis({ ...ownedClientDefaults, ...(input as RedisOptions) });
  } else {
    throw new InvalidOptionError('client', 'an ioredis Redis or Cluster client, ioredis options, or a redis:// URL', input);
  }
  // Connection errors reach callers as failed operations; without a listener ioredis would
  // also print every reconnect failure of a client nobody else can see.
  const tracked = trackConnectionErrors(client);
  return { client, owned: true, lastConnectionError: tracked.last, dispose: () => {} };
}

/** The event methods of an ioredis `Redis` / `Cluster` (a custom wrapper may lack them). */
interface Emitter {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

/** One pair of listeners per client, shared by every `RedisLock` open on it. */
interface ErrorRecord {
  last: Error | undefined;
  users: number;
  readonly onError: (error: Error) => void;
  readonly onReady: () => void;
}

const records = new WeakMap<object, ErrorRecord>();

/**
 * Keeps the last `error` a client emitted, forgotten on `ready`. Locks sharing one client share
 * one `error` and one `ready` listener (no MaxListenersExceededWarning however many locks use
 * it); the last lock to let go removes them, leaving the client's listeners as they were.
 */
function trackConnectionErrors(client: object): { last: () => Error | undefined; dispose: () => void } {
  const emitter = client as Partial<Emitter>;
  if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') {
    return { last: () => undefined, dispose: () => {} };
  }
  let record = records.get(client);
  if (record === undefined) {
    const created: ErrorRecord = {
      last: undefined,
      users: 0,
      onError: (error: Error) => {
        created.last = error;
      },
      onReady: () => {
        created.last = undefined;
      },
    };
    emitter.on('error', created.onError);
    emitter.on('ready', created.onReady);
    records.set(client, created);
    record = created;
  }
  const current = record;
  current.users++;
  let disposed = false;
  return {
    last: () => current.last,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      if (--current.users > 0) return;
      emitter.off!('error', current.onError);
      emitter.off!('ready', current.onReady);
      records.delete(client);
    },
  };
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
