import { constants } from 'node:os';

/**
 * The exit codes of `dlock` itself. `dlock run` otherwise exits with its command's code, or
 * 128 + the signal number when the command was killed by a signal (as shells report it).
 * The numbers follow sysexits(3) where one fits, so they rarely clash with a command's own.
 */
export const ExitCode = Object.freeze({
  /** Done: `inspect` answered, or `run`'s command exited 0. */
  OK: 0,
  /** Bad usage: unknown command or option, a missing or malformed value, an unknown backend. */
  USAGE: 2,
  /** The backend could not be reached or kept failing (connection refused, timeouts, ...). */
  UNAVAILABLE: 69,
  /** An error dlock did not expect (a bug: please report it with the message). */
  INTERNAL: 70,
  /** `run --wait`: the lock stayed busy for the whole wait. */
  TIMEOUT: 75,
  /** `run`: the lock was lost while the command ran; the command was stopped. */
  LOST: 76,
  /** `run`: the command exists but could not be executed (permissions). */
  NOT_EXECUTABLE: 126,
  /** `run`: the command was not found. */
  NOT_FOUND: 127,
});

/** The code a shell reports for a process killed by `signal`: 128 + its number (SIGTERM: 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  const number = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (number ?? 0);
}
