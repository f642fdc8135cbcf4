import { InvalidOptionError, rejectUnknownOptions } from '@dlock/core';
import { Etcd3, GRPCUnavailableError, type IOptions, type KVClient, type LeaseClient, type WatchBuilder } from 'etcd3';
import { isTransientEtcdError } from './errors.js';

/**
 * The part of an etcd3 `Etcd3` client the locks use: raw KV and lease RPCs (for the exact
 * transactions of the protocol) and watches. Any `Etcd3` instance fits.
 *
 * @example
 * ```ts
 * const client: EtcdClient = new Etcd3(etcdClientOptions({ hosts: 'http://127.0.0.1:2379' }));
 * ```
 */
export interface EtcdClient {
  readonly kv: Pick<KVClient, 'txn' | 'range'>;
  readonly leaseClient: Pick<LeaseClient, 'leaseGrant' | 'leaseRevoke' | 'leaseKeepAlive' | 'leaseTimeToLive'>;
  watch(): WatchBuilder;
  close(): void;
}

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type WatchBackoff = NonNullable<FaultHandling['watchBackoff']>;

/**
 * Tuning of the client a lock creates from options (see {@link etcdClientOptions}).
 *
 * @example
 * ```ts
 * new Etcd3(etcdClientOptions({ hosts }, { callTimeout: 1_000, attempts: 20 }));
 * ```
 */
export interface EtcdClientTuning {
  /**
   * The longest one unary call (txn, range, lease grant/revoke) takes, all its attempts
   * included, in ms. Against an etcd that cannot be reached (connection refused, no route,
   * a server that does not answer) the call fails after this long with a `GRPCUnavailableError`
   * that names the last failure (e.g. `connect ECONNREFUSED 127.0.0.1:2379`). Each attempt has
   * its own deadline: the whole `callTimeout` with one host; with several, half of it, so that
   * a paused or partitioned member leaves time to try another one.
   * @default 2_000
   */
  callTimeout?: number;
  /**
   * The most attempts a unary call makes on transient errors (unreachable member, no leader,
   * leader changed, deadline) within its `callTimeout`, each on the next member, with backoff
   * from 25 ms up to 500 ms.
   * @default 12
   */
  attempts?: number;
}

/**
 * Defaults of {@link EtcdClientTuning}.
 *
 * @example
 * ```ts
 * const slower = { ...defaultEtcdClientTuning, callTimeout: 5_000 };
 * ```
 */
export const defaultEtcdClientTuning = Object.freeze({ callTimeout: 2_000, attempts: 12 });

/**
 * etcd3 client options that let locking resume within about 3 s of a leader change, and make
 * a call against an unreachable etcd fail within `callTimeout`. The caller's options win (a
 * partial `faultHandling` is merged field by field).
 *
 * What it changes, and why: etcd3's default puts a circuit breaker on every member that opens
 * after three consecutive failures for 5 s. While a new leader is elected, every member answers
 * "no leader" or "leader changed", so all breakers open and every call fails for about 12 s
 * even though a new leader is ready in about 1.3 s. Here members are never blocked; instead a
 * call is retried on transient errors with a short backoff, each attempt on the next member and
 * with its own deadline (a per-call deadline set once would be spent by the first attempt),
 * until the call's `callTimeout` is spent; and watch streams reconnect after 50 ms to 1 s
 * instead of up to 30 s.
 *
 * Use it when you create the `Etcd3` client yourself and pass it to a lock.
 *
 * @example
 * ```ts
 * import { Etcd3 } from 'etcd3';
 * import { EtcdMutex, etcdClientOptions } from '@dlock/etcd';
 *
 * const client = new Etcd3(etcdClientOptions({ hosts: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'] }));
 * const mutex = new EtcdMutex(client);
 * ```
 */
export function etcdClientOptions(options: IOptions, tuning: EtcdClientTuning = {}): IOptions {
  rejectUnknownOptions(tuning, ['callTimeout', 'attempts'], 'etcdClientOptions() tuning');
  const callTimeout = tuning.callTimeout ?? defaultEtcdClientTuning.callTimeout;
  const attempts = tuning.attempts ?? defaultEtcdClientTuning.attempts;
  const severalHosts = Array.isArray(options.hosts) && options.hosts.length > 1;
  const attemptTimeout = severalHosts ? Math.max(1, Math.round(callTimeout / 2)) : callTimeout;
  return {
    ...options,
    defaultCallOptions:
      options.defaultCallOptions ??
      ((context) => (context.isStream ? {} : { deadline: Date.now() + attemptTimeout })),
    faultHandling: {
      host: () => passThroughPolicy,
      global: retryPolicy(attempts, callTimeout),
      watchBackoff: exponentialBackoff(50, 1_000),
      ...options.faultHandling,
    },
  };
}

/**
 * Whether `value` looks like an etcd3 client (has what we call) rather than options.
 *
 * @example
 * ```ts
 * isEtcdClient(new Etcd3()); // true
 * isEtcdClient({ hosts: 'http://127.0.0.1:2379' }); // false
 * ```
 */
export function isEtcdClient(value: unknown): value is EtcdClient {
  const v = value as Partial<EtcdClient> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.watch === 'function' &&
    typeof v.close === 'function' &&
    typeof v.kv?.txn === 'function' &&
    typeof v.leaseClient?.leaseKeepAlive === 'function'
  );
}

/** The client to use and whether the lock owns it (created it, so closes it on `close()`). */
export function resolveEtcdClient(input: unknown, tuning: EtcdClientTuning): { client: EtcdClient; owned: boolean } {
  if (isEtcdClient(input)) return { client: input, owned: false };
  if (typeof input !== 'object' || input === null || !('hosts' in input)) {
    throw new InvalidOptionError('client', 'an etcd3 Etcd3 client or etcd3 options with `hosts`', input);
  }
  return { client: new Etcd3(etcdClientOptions(input as IOptions, tuning)), owned: true };
}

const noEvent = () => ({ dispose: () => undefined });

/**
 * The signal a policy hands on when etcd3 gives it none (it never does for unary calls): one
 * that never aborts, shared, since an `AbortController` per call was a measurable part of a
 * lock's client time.
 */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** A host policy that runs every call: no member is ever skipped (see etcdClientOptions). */
const passThroughPolicy: Policy = {
  _altReturn: undefined as never,
  onSuccess: noEvent,
  onFailure: noEvent,
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> =>
    fn({ signal: signal ?? NEVER_ABORTED }),
};

/**
 * Retries transient failures up to `attempts` times with jittered exponential backoff (25 ms
 * to 500 ms), within `callTimeout` ms from the call's start: an attempt still running then is
 * abandoned (its grpc deadline ends it), and no attempt starts that could not begin before.
 */
function retryPolicy(attempts: number, callTimeout: number): Policy {
  return {
    _altReturn: undefined as never,
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> => {
      const context = { signal: signal ?? NEVER_ABORTED };
      const endsAt = performance.now() + callTimeout;
      let lastError: unknown;
      for (let attempt = 1; ; attempt++) {
        try {
          return await beforeDeadline(fn(context), endsAt - performance.now());
        } catch (error) {
          if (error === OUT_OF_TIME) throw unreachable(callTimeout, attempt, lastError);
          if (attempt >= attempts || !isTransientEtcdError(error) || context.signal.aborted) throw error;
          lastError = error;
          const base = Math.min(500, 25 * 2 ** (attempt - 1));
          const pause = base / 2 + Math.random() * (base / 2);
          if (performance.now() + pause >= endsAt) throw unreachable(callTimeout, attempt, error);
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    },
  };
}

/** Rejection of {@link beforeDeadline} when time ran out (never seen outside this module). */
const OUT_OF_TIME = Symbol('out of time');

/**
 * `work`, or a rejection with {@link OUT_OF_TIME} if it has not settled within `ms`. One promise
 * and one timer per attempt (no `Promise.race`): this runs for every request a lock sends.
 */
function beforeDeadline<T>(work: PromiseLike<T> | T, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // Whole ms: Node keeps one timer list per duration, and a fractional one made a new list
    // (and a priority-queue insert) per request; rounding up is at most 1 ms late.
    const timer = setTimeout(() => reject(OUT_OF_TIME), Math.max(0, Math.ceil(ms)));
    // An abandoned attempt may still settle later: ignored (a promise settles once), never unhandled.
    Promise.resolve(work).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * A call's `callTimeout` ran out while etcd failed or did not answer. The message names the last
 * failure (`connect ECONNREFUSED ...`, `no leader`, a deadline), which is also the `cause`.
 */
function unreachable(callTimeout: number, attempts: number, lastError: unknown): GRPCUnavailableError {
  const last = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
  const error = new GRPCUnavailableError(
    `etcd unavailable: no answer within callTimeout (${callTimeout} ms, ${attempts} attempt${attempts === 1 ? '' : 's'})${last}`,
  );
  if (lastError !== undefined) Object.defineProperty(error, 'cause', { value: lastError, configurable: true, writable: true });
  return error;
}

/**
 * Watch-stream reconnect delays: `initial` doubling up to `max`, each with jitter. etcd3 starts
 * (and, after every successful response, restarts) from `.next()` of the object given.
 */
function exponentialBackoff(initial: number, max: number): WatchBackoff {
  const step = (ms: number): WatchBackoff => ({
    duration: ms / 2 + Math.random() * (ms / 2),
    next: () => step(Math.min(max, ms * 2)),
  });
  return { duration: initial, next: () => step(initial) };
}
