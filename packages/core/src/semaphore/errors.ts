import { DlockError } from '../errors.js';

/**
 * A semaphore acquisition asked for a `limit` other than the one of the callers that hold or
 * wait for the key now. Every caller of a key must agree on its limit: with two limits, "at most
 * `limit` permits" would mean nothing. A key's limit is free to change once nobody holds or waits
 * for it (roll out a new limit by letting the old holders finish). Thrown before anything was
 * taken or queued.
 */
export class SemaphoreLimitMismatchError extends DlockError {
  /** The limit this call asked for. */
  readonly limit: number;
  /** The limit of the current holders and waiters. */
  readonly currentLimit: number;

  constructor(key: string, limit: number, currentLimit: number, options: { backend?: string } = {}) {
    const backend = options.backend === undefined ? '' : ` (${options.backend})`;
    super(
      `semaphore "${key}"${backend} is held or awaited with limit ${currentLimit}; this call asked for limit ${limit} ` +
        '(every caller of a key must use the same limit while anyone holds or waits for it)',
      { key },
    );
    this.limit = limit;
    this.currentLimit = currentLimit;
  }
}
