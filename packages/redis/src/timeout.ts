/**
 * A Redis command (or pipeline) got no answer within `operationTimeout`: the server is down,
 * paused, or too slow. It is the `cause` of the `LockBackendError` the caller sees.
 *
 * @example
 * ```ts
 * try {
 *   await lock.tryLock('k');
 * } catch (error) {
 *   if (error instanceof LockBackendError && error.cause instanceof RedisTimeoutError) retryLater();
 * }
 * ```
 */
export class RedisTimeoutError extends Error {
  /** The operation that timed out: `acquire`, `release`, `renew`, `inspect`, `subscribe`, ... */
  readonly operation: string;
  /** The limit that passed, in ms. */
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(`redis ${operation} got no reply within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Settles like `promise`, or rejects with {@link RedisTimeoutError} after `ms`. The command is
 * not cancelled (ioredis cannot take a command back): a late reply is ignored, a late error
 * swallowed, so neither becomes an unhandled rejection.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeoutError(operation, ms)), ms);
    promise.then(
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
