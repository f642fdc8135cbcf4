import { spawn } from 'node:child_process';
import { LockLostError, type DistributedLock, type LockHandle } from '@dlock/core';
import type { RunInvocation } from './args.js';
import { describeBackend, openBackend } from './backend.js';
import { closeLock } from './close.js';
import { ExitCode, signalExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { SignalRelay } from './signals.js';

/** The reason a wait for the lock was aborted: a signal reached dlock. */
export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

/**
 * `dlock run`: acquire, run the command with the watchdog renewing the lease, release, close.
 * Resolves with the exit code; rejects only with errors `main` maps to dlock's own codes
 * (usage, backend unavailable, wait timeout).
 */
export async function runCommand(invocation: RunInvocation, io: CliIo): Promise<number> {
  // Caught from the start: a signal while connecting or waiting must still close the lock.
  const signals = new SignalRelay();
  const waiting = new AbortController();
  signals.listen((signal) => waiting.abort(new Interrupted(signal)));
  try {
    const lock = await openBackend(invocation.backend, invocation);
    try {
      let handle: LockHandle;
      try {
        if (waiting.signal.aborted) throw waiting.signal.reason;
        if (invocation.verbose) {
          const bound = invocation.wait === undefined ? 'as long as it takes' : `up to ${invocation.wait} ms`;
          io.err(`dlock: acquiring lock "${invocation.key}" on ${describeBackend(invocation.backend)} (waiting ${bound})`);
        }
        handle = await lock.lock(invocation.key, {
          ttl: invocation.ttl,
          ...(invocation.wait === undefined ? {} : { waitTimeout: invocation.wait }),
          signal: waiting.signal,
        });
      } catch (error) {
        if (!(error instanceof Interrupted)) throw error;
        io.err(`dlock: ${error.message} while waiting for lock "${invocation.key}"; nothing was run`);
        return signalExitCode(error.signal);
      }
      return await holdAndRun(lock, handle, invocation, io, signals);
    } finally {
      await closeLock(lock, io);
    }
  } finally {
    signals.close();
  }
}

/** Runs the command under `handle`, then releases it. Resolves with dlock's exit code. */
async function holdAndRun(lock: DistributedLock, handle: LockHandle, invocation: RunInvocation, io: CliIo, signals: SignalRelay): Promise<number> {
  const { key, verbose } = invocation;
  if (verbose) {
    io.err(`dlock: acquired lock "${key}" on ${describeBackend(invocation.backend)} (fencing token ${handle.fencingToken}, ttl ${invocation.ttl} ms)`);
  }
  const stopRenewing = lock.autoRenew(handle, {
    renewFailed: (_handle, error) => io.err(`dlock: warning: renewing lock "${key}" failed, retrying while the lease lasts: ${error.message}`),
  });
  try {
    const outcome = await supervise(handle, invocation, io, signals);
    if (outcome.lost !== undefined) {
      io.err(`dlock: the command was stopped because lock "${key}" was lost (${outcome.how})`);
      return ExitCode.LOST;
    }
    stopRenewing();
    try {
      await handle.release();
      if (verbose) io.err(`dlock: released lock "${key}"`);
    } catch (error) {
      io.err(`dlock: warning: releasing lock "${key}" failed (its lease ends by itself): ${error instanceof Error ? error.message : String(error)}`);
    }
    return outcome.code;
  } finally {
    stopRenewing();
  }
}

export interface Outcome {
  /** dlock's exit code if the lock was kept: the command's code, or 128+signal. */
  readonly code: number;
  /** How the command ended, for messages. */
  readonly how: string;
  /** Set when the lock was lost while the command ran. */
  readonly lost: LockLostError | undefined;
}

/**
 * Starts the command with the fencing token in its environment, passes signals on, and stops
 * it (SIGTERM, SIGKILL after the grace period) if the lock is lost. Resolves when it exited.
 */
export function supervise(
  handle: LockHandle,
  invocation: Pick<RunInvocation, 'argv' | 'fenceEnv' | 'grace'>,
  io: CliIo,
  signals: SignalRelay,
): Promise<Outcome> {
  const [program, ...args] = invocation.argv;
  return new Promise<Outcome>((resolve) => {
    if (!handle.held) {
      resolve({ code: ExitCode.LOST, how: 'before it started', lost: lostError(handle) });
      return;
    }
    let lost: LockLostError | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(program, args, {
      stdio: 'inherit',
      env: { ...io.env, [invocation.fenceEnv]: String(handle.fencingToken) },
    });
    const onLost = (): void => {
      lost = lostError(handle);
      io.err(`dlock: ${lost.message}; stopping the command (SIGTERM, then SIGKILL after ${invocation.grace} ms)`);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), invocation.grace);
    };
    const done = (outcome: Outcome): void => {
      handle.signal.removeEventListener('abort', onLost);
      clearTimeout(killTimer);
      signals.listen(() => {});
      resolve(outcome);
    };
    handle.signal.addEventListener('abort', onLost, { once: true });
    signals.listen((signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      // Only a failed start ends here; a failed kill() of a running command is not fatal.
      if (child.pid !== undefined) return;
      const notFound = error.code === 'ENOENT';
      io.err(`dlock: cannot run "${program}": ${notFound ? 'command not found' : error.message}`);
      done({ code: notFound ? ExitCode.NOT_FOUND : ExitCode.NOT_EXECUTABLE, how: 'it could not be started', lost });
    });
    child.once('exit', (code, signal) => {
      const how = signal === null ? `it exited with code ${code ?? 0}` : `it was killed by ${signal}`;
      done({ code: signal === null ? (code ?? 0) : signalExitCode(signal), how, lost });
    });
  });
}

function lostError(handle: LockHandle): LockLostError {
  const reason: unknown = handle.signal.reason;
  return reason instanceof LockLostError ? reason : new LockLostError(handle.key, 'the lease ended before the command finished');
}
