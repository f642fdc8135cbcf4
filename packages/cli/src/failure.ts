import { InvalidOptionError, LockAcquireTimeoutError, LockBackendError } from '@dlock/core';
import { ExitCode } from './exit-codes.js';
import { UsageError } from './usage-error.js';

/** The exit code for an error that ended a command, by class (never by message). */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof InvalidOptionError) return ExitCode.USAGE;
  // A wait that ran out while the backend was failing is an outage, not a busy lock.
  if (error instanceof LockAcquireTimeoutError) return error.cause instanceof LockBackendError ? ExitCode.UNAVAILABLE : ExitCode.TIMEOUT;
  if (error instanceof LockBackendError) return ExitCode.UNAVAILABLE;
  return ExitCode.INTERNAL;
}

/** The line printed for an error that ended a command. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const code = exitCodeOf(error);
    return code === ExitCode.INTERNAL ? `unexpected error: ${error.stack ?? error.message}` : error.message;
  }
  return `unexpected error: ${String(error)}`;
}
