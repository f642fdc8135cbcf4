import { hostname } from 'node:os';
import type { Election, Leadership } from '@dlock/core';
import type { ElectInvocation, LeaderInvocation } from './args.js';
import { describeBackend, openElection } from './backend.js';
import { closeLock } from './close.js';
import { ExitCode, signalExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { Interrupted, supervise } from './run-command.js';
import { SignalRelay } from './signals.js';

/**
 * `dlock elect`: campaign, run the command as the leader (the watchdog renewing the leadership;
 * the term in the command's environment), resign, close. Started on every pod, exactly one runs
 * the command at a time; the others wait as candidates and take over when it ends or when the
 * leader's lease runs out (its process died). Resolves with the exit code.
 */
export async function electCommand(invocation: ElectInvocation, io: CliIo): Promise<number> {
  const signals = new SignalRelay();
  const waiting = new AbortController();
  signals.listen((signal) => waiting.abort(new Interrupted(signal)));
  const { name, verbose } = invocation;
  const value = invocation.value ?? `${hostname()}:${process.pid}`;
  try {
    const election = await openElection(invocation.backend, invocation);
    try {
      let leadership: Leadership;
      try {
        if (waiting.signal.aborted) throw waiting.signal.reason;
        if (verbose) {
          const bound = invocation.wait === undefined ? 'as long as it takes' : `up to ${invocation.wait} ms`;
          io.err(`dlock: campaigning in election "${name}" on ${describeBackend(invocation.backend)} as "${value}" (waiting ${bound})`);
        }
        leadership = await election.campaign(name, value, {
          ttl: invocation.ttl,
          autoRenew: false,
          ...(invocation.wait === undefined ? {} : { waitTimeout: invocation.wait }),
          signal: waiting.signal,
        });
      } catch (error) {
        if (!(error instanceof Interrupted)) throw error;
        io.err(`dlock: ${error.message} while campaigning in election "${name}"; nothing was run`);
        return signalExitCode(error.signal);
      }
      return await leadAndRun(election, leadership, invocation, io, signals);
    } finally {
      await closeLock(election, io);
    }
  } finally {
    signals.close();
  }
}

/** Runs the command as the leader, then resigns. Resolves with dlock's exit code. */
async function leadAndRun(election: Election, leadership: Leadership, invocation: ElectInvocation, io: CliIo, signals: SignalRelay): Promise<number> {
  const { name, verbose } = invocation;
  if (verbose) io.err(`dlock: elected leader of "${name}" (term ${leadership.term}, ttl ${invocation.ttl} ms)`);
  const stopRenewing = election.autoRenew(leadership, {
    renewFailed: (_handle, error) => io.err(`dlock: warning: renewing the leadership of "${name}" failed, retrying while the lease lasts: ${error.message}`),
  });
  try {
    const outcome = await supervise(leadership, invocation, io, signals);
    if (outcome.lost !== undefined) {
      io.err(`dlock: the command was stopped because the leadership of "${name}" was lost (${outcome.how})`);
      return ExitCode.LOST;
    }
    stopRenewing();
    try {
      await leadership.resign();
      if (verbose) io.err(`dlock: resigned the leadership of "${name}"`);
    } catch (error) {
      io.err(`dlock: warning: resigning "${name}" failed (its lease ends by itself): ${error instanceof Error ? error.message : String(error)}`);
    }
    return outcome.code;
  } finally {
    stopRenewing();
  }
}

/** `dlock leader`: prints the leader's value and term (or that nobody leads). */
export async function leaderCommand(invocation: LeaderInvocation, io: CliIo): Promise<number> {
  const election = await openElection(invocation.backend, invocation);
  try {
    const leader = await election.leader(invocation.name);
    const { name } = invocation;
    if (invocation.json) {
      io.out(JSON.stringify(leader === null ? { name, leader: false } : { name, leader: true, value: leader.value, term: String(leader.term) }));
    } else if (leader === null) {
      io.out(`election "${name}" has no leader`);
    } else {
      io.out(`election "${name}" is led by ${JSON.stringify(leader.value)}`);
      io.out(`  term  ${leader.term}`);
    }
    return ExitCode.OK;
  } finally {
    await closeLock(election, io);
  }
}
