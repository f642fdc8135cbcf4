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

interface Pending {
  readonly deadline: number;
  readonly operation: string;
  readonly reject: (error: RedisTimeoutError) => void;
}

/**
 * `withTimeout` for a stream of calls that all share one limit: one timer for all of them
 * instead of a `setTimeout`/`clearTimeout` pair per call (a measurable share of an
 * uncontended lock+unlock). With one limit, deadlines come in the order the calls were made,
 * so the pending calls form a queue (a `Set` iterates in insertion order) and the timer only
 * ever waits for the oldest one.
 *
 * @example
 * ```ts
 * const deadlines = new SharedTimeout(2_000);
 * const reply = await deadlines.bound(client.get('k'), 'get');
 * ```
 */
export class SharedTimeout {
  readonly #pending = new Set<Pending>();
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly ms: number) {}

  /** Settles like `promise`, or rejects with {@link RedisTimeoutError} after `ms` (late outcomes are ignored). */
  bound<T>(promise: Promise<T>, operation: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.ms, operation, reject };
      this.#pending.add(entry);
      this.#timer ??= setTimeout(() => this.#expire(), this.ms);
      promise.then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.#pending.delete(entry);
          reject(error);
        },
      );
    });
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const entry of this.#pending) {
      if (entry.deadline > now) {
        // The oldest call still open: wait for exactly its deadline.
        this.#timer = setTimeout(() => this.#expire(), entry.deadline - now);
        return;
      }
      this.#pending.delete(entry);
      entry.reject(new RedisTimeoutError(entry.operation, this.ms));
    }
  }
}
