/**
 * Every failure dlock reports has its own class, so callers branch with `instanceof`,
 * never by matching messages. Each carries `name`, the lock `key` (when there is one)
 * and the underlying `cause`.
 */

/** Base of all dlock errors except {@link InvalidOptionError} (which is a `TypeError`). */
export class DlockError extends Error {
  /** The lock key the error is about, when there is one. */
  readonly key: string | undefined;

  constructor(message: string, options: { key?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.key = options.key;
  }
}

/**
 * `lock()` gave up after `waitTimeout` ms without acquiring. When the backend was failing at
 * that moment, `cause` is its last error (a `LockBackendError`) and the message names it.
 */
export class LockAcquireTimeoutError extends DlockError {
  readonly waitTimeout: number;
  constructor(key: string, waitTimeout: number, options: { backend?: string; cause?: unknown } = {}) {
    const failing = options.cause instanceof Error ? ` (the backend was failing: ${options.cause.message})` : '';
    super(
      `could not acquire lock "${key}"${backendSuffix(options.backend)} within ${waitTimeout} ms${failing}`,
      { key, cause: options.cause },
    );
    this.waitTimeout = waitTimeout;
  }
}

/** `unlock()`/`renew()` on a lock this handle does not hold (released, expired or taken over). */
export class LockNotHeldError extends DlockError {
  constructor(key: string, reason: string, options: { backend?: string; cause?: unknown } = {}) {
    super(`lock "${key}"${backendSuffix(options.backend)} is not held by this handle: ${reason}`, {
      key,
      cause: options.cause,
    });
  }
}

/**
 * The holder lost the lock before releasing it: its lease expired, renewal was refused,
 * or the key was removed by someone else. Delivered through `handle.signal.reason`.
 */
export class LockLostError extends DlockError {
  constructor(key: string, reason: string, options: { backend?: string; cause?: unknown } = {}) {
    super(`lock "${key}"${backendSuffix(options.backend)} was lost: ${reason}`, { key, cause: options.cause });
  }
}

/** The backend could not be reached or answered with an error. `cause` is the client's error. */
export class LockBackendError extends DlockError {
  readonly backend: string;
  constructor(backend: string, operation: string, options: { key?: string; cause?: unknown } = {}) {
    const detail = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      `${backend} ${operation}${options.key === undefined ? '' : ` of lock "${options.key}"`} failed${detail}`,
      options,
    );
    this.backend = backend;
  }
}

/** The lock instance (or service, or manager) was closed; no further calls are accepted. */
export class LockClosedError extends DlockError {
  constructor(what: string, operation: string, key?: string) {
    super(`${what} is closed; cannot ${operation}${key === undefined ? '' : ` "${key}"`}`, key === undefined ? {} : { key });
  }
}

/**
 * `handle.signal.reason` after a normal release: the critical section is over, not failed.
 * Distinct from {@link LockLostError} so listeners can tell the two apart.
 */
export class LockReleasedError extends DlockError {
  constructor(key: string) {
    super(`lock "${key}" was released`, { key });
  }
}

/** `LockManager` was asked for a backend name that is not registered (or holds no primitive of the kind asked for). */
export class UnknownBackendError extends DlockError {
  readonly backendName: string;
  /** @param what what was looked for: a lock backend, or one primitive of a backend ('read-write lock'). */
  constructor(name: string, known: readonly string[], what = 'lock backend') {
    super(`no ${what} named "${name}" is registered (known: ${known.length ? known.join(', ') : 'none'})`);
    this.backendName = name;
  }
}

/** Bad input: what was wrong and what was received. Thrown before any I/O; nothing changes. */
export class InvalidOptionError extends TypeError {
  readonly option: string;
  readonly received: unknown;
  constructor(option: string, expectation: string, received: unknown) {
    super(`${option} must be ${expectation}, got ${describe(received)}`);
    this.name = 'InvalidOptionError';
    this.option = option;
    this.received = received;
  }
}

function backendSuffix(backend: string | undefined): string {
  return backend === undefined ? '' : ` (${backend})`;
}

/** `-5 (number)`, `"10" (string)`, `undefined`: a value as an error message shows it. */
export function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `${JSON.stringify(shown)} (string)`;
  }
  if (typeof value === 'bigint') return `${value}n (bigint)`;
  if (typeof value === 'object') return `${Object.prototype.toString.call(value)} (object)`;
  return `${String(value)} (${typeof value})`;
}
