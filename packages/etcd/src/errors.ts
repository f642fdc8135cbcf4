import { LockBackendError } from '@dlock/core';
import {
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  EtcdWatchStreamEnded,
  GRPCAbortedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  GRPCInvalidArgumentError,
  GRPCNotImplementedError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  GRPCUnknownError,
} from 'etcd3';

/**
 * The etcd lease that carried a lock's key is gone: revoked (`etcdctl lease revoke`), expired
 * (no keep-alive reached etcd for a whole TTL, e.g. a paused process or a partition), or the
 * key itself was deleted by someone else.
 *
 * A queued `lock()` call rejects with it as soon as the loss is seen (it does not first wait for
 * the waiters ahead of it). A holder learns of it through `handle.signal` (a `LockLostError`
 * whose `cause` is this error). It is a `LockBackendError`: retrying the call queues again on a
 * fresh lease.
 *
 * @example
 * ```ts
 * try {
 *   await mutex.lock('jobs:nightly');
 * } catch (error) {
 *   if (error instanceof EtcdLeaseLostError) console.warn(`lease ${error.leaseId} lost, retrying`);
 * }
 * ```
 */
export class EtcdLeaseLostError extends LockBackendError {
  /** The lease id in lowercase hex, as it appears in `EtcdMutex` keys and in `etcdctl lease list`. */
  readonly leaseId: string;

  constructor(leaseId: string, detail: string, options: { key?: string; operation?: string; cause?: unknown } = {}) {
    super('etcd', options.operation ?? 'acquire', { key: options.key, cause: options.cause });
    this.leaseId = leaseId;
    const what = options.key === undefined ? '' : ` of lock "${options.key}"`;
    this.message = `etcd ${options.operation ?? 'acquire'}${what} failed: lease ${leaseId} ${detail}`;
  }
}

/**
 * Whether `error` is a failure worth retrying: the server was unreachable, slow, or between
 * leaders. etcd3 gives every error `name === 'Error'`, so this goes by class (`instanceof`).
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (error instanceof LockBackendError && isTransientEtcdError(error.cause)) scheduleRetry();
 * }
 * ```
 */
export function isTransientEtcdError(error: unknown): boolean {
  return (
    error instanceof GRPCUnavailableError ||
    error instanceof GRPCDeadlineExceededError ||
    error instanceof GRPCInternalError ||
    error instanceof GRPCCancelledError ||
    error instanceof GRPCUnknownError ||
    error instanceof GRPCResourceExhastedError ||
    error instanceof GRPCAbortedError ||
    error instanceof EtcdWatchStreamEnded
  );
}

/**
 * Whether `error` is one that waiting cannot cure: bad credentials, a missing permission, a
 * request etcd refuses as invalid. A waiting `lock()` gives up on these at once; anything else
 * (unreachable, slow, between leaders, a lost waiter lease) it retries until its deadline.
 */
export function isPermanentEtcdError(error: unknown): boolean {
  return (
    error instanceof GRPCUnauthenticatedError ||
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdInvalidAuthTokenError ||
    error instanceof EtcdPermissionDeniedError ||
    error instanceof GRPCInvalidArgumentError ||
    error instanceof GRPCNotImplementedError
  );
}

/** Whether etcd said the lease does not exist (any more). */
export function isLeaseNotFound(error: unknown): boolean {
  return error instanceof EtcdLeaseInvalidError;
}
