import { LockBackendError } from '@dlock/core';

/**
 * A node stayed silent for `nodeTimeout` ms while it owed a reply; the command may still run
 * there later. Found in {@link RedlockQuorumError.failures}.
 * @example
 * ```ts
 * const stopped = error.failures.filter((f) => f.error instanceof RedlockNodeTimeoutError).map((f) => f.node);
 * ```
 */
export class RedlockNodeTimeoutError extends Error {
  /** `host:port` of the node. */
  readonly node: string;
  readonly timeout: number;

  /**
   * @param connectionError why the node is not connected, when it is not (a client Redlock
   *   created records its last failed connection attempt: ECONNREFUSED, ENOTFOUND, auth...).
   */
  constructor(node: string, timeout: number, connectionError?: Error) {
    super(
      `${node} did not answer within ${timeout} ms` + (connectionError ? ` (not connected: ${connectionError.message})` : ''),
      connectionError ? { cause: connectionError } : undefined,
    );
    this.name = 'RedlockNodeTimeoutError';
    this.node = node;
    this.timeout = timeout;
  }
}

/** One node's failure inside a {@link RedlockQuorumError}. */
export interface RedlockNodeFailure {
  /** `host:port` of the node. */
  readonly node: string;
  /** What went wrong: a {@link RedlockNodeTimeoutError}, or the client's error. */
  readonly error: Error;
}

/**
 * Too few nodes answered to decide: the operation could neither succeed nor be told apart from
 * contention, so it is not `null`/`false` but this error. (Losing to another holder is not an
 * error: `tryLock()` resolves `null`.) Lists how many nodes answered and why the others did not.
 *
 * @example
 * ```ts
 * try {
 *   await redlock.tryLock('jobs:nightly');
 * } catch (error) {
 *   if (error instanceof RedlockQuorumError) log.warn(error.failures.map((f) => f.node));
 * }
 * ```
 */
export class RedlockQuorumError extends LockBackendError {
  /** `acquire`, `release`, `renew` or `inspect`. */
  readonly operation: string;
  /** Number of nodes the lock runs on. */
  readonly nodes: number;
  /** Nodes that must agree (`floor(nodes / 2) + 1`). */
  readonly quorum: number;
  /** Nodes that gave an answer (of any kind). */
  readonly answered: number;
  /** The nodes that did not answer, and why. */
  readonly failures: readonly RedlockNodeFailure[];

  constructor(
    operation: string,
    key: string,
    counts: { nodes: number; quorum: number; answered: number },
    failures: readonly RedlockNodeFailure[],
  ) {
    const why = failures.map((f) => `${f.node}: ${f.error.message}`).join('; ');
    const summary =
      `no quorum: ${counts.answered} of ${counts.nodes} nodes answered, ${counts.quorum} must agree` +
      (why ? ` (${why})` : '');
    super('redlock', operation, { key, cause: new AggregateError(failures.map((f) => f.error), summary) });
    this.operation = operation;
    this.nodes = counts.nodes;
    this.quorum = counts.quorum;
    this.answered = counts.answered;
    this.failures = Object.freeze([...failures]);
  }
}
