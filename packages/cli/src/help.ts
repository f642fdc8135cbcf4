import { runDefaults, type CommandName } from './args.js';
import { ExitCode } from './exit-codes.js';

const backendHelp = `Backend (--backend, -b, or DLOCK_BACKEND; the flag wins):
  memory                                   in this process only: for trying dlock out
  redis://[user:pass@]host:port[/db]       one Redis server (rediss:// for TLS)
  etcd://host:port[,host:port...]          etcd cluster endpoints (EtcdMutex, etcdctl-compatible)
  redlock://host:port,host:port,host:port  independent Redis masters (Redlock quorum)

Backend options:
  --prefix <p>                namespace of the backend's keys (or DLOCK_PREFIX); default: the
                              backend's own ("dlock" for Redis and Redlock, "dlock/mutex/" for etcd;
                              --prefix "" makes etcd keys those of \`etcdctl lock <key>\`)
  --unavailable-timeout <d>   how long a wait rides out a failing backend before giving up with
                              exit ${ExitCode.UNAVAILABLE} (default 30s); a --wait bounds it too

Durations are milliseconds (1500) or take a unit: 500ms, 10s, 2m, 1h.`;

const exitCodes = `Exit codes of dlock itself:
  ${ExitCode.USAGE}    bad usage: unknown command or option, bad value, unknown backend
  ${ExitCode.UNAVAILABLE}   the backend could not be reached (or kept failing)
  ${ExitCode.INTERNAL}   unexpected error (a bug)`;

const general = `dlock: distributed locks from the command line (https://github.com/dlock-js/dlock)

Usage:
  dlock run <key> [options] -- <command> [args...]   run a command while holding a lock
  dlock inspect <key> [--json]                      show who holds a lock
  dlock help [command]  |  dlock <command> --help  |  dlock --version

${backendHelp}

${exitCodes}
  ${ExitCode.TIMEOUT}   run: --wait passed and the lock was still busy
  ${ExitCode.LOST}   run: the lock was lost while the command ran (the command was stopped)
  otherwise run exits with its command's code (128+N if a signal N killed it)

Example:
  DLOCK_BACKEND=redis://127.0.0.1:6379 dlock run nightly-report --wait 0 -- ./report.sh`;

const run = `Usage: dlock run <key> [options] -- <command> [args...]

Acquires the lock <key>, runs the command while holding it (a watchdog renews the lease every
ttl/3), then releases it. Two \`dlock run\` on one key and backend never run at the same time.

Options:
  --ttl <d>          lease length: how long the lock outlives a dlock that stops renewing it
                     (crash, pause, partition) (default ${runDefaults.ttl / 1000}s)
  --wait <d>         give up after waiting this long for the lock, exit ${ExitCode.TIMEOUT} (default: wait as
                     long as it takes); --wait 0 tries once
  --fence-env <NAME> environment variable that gives the command the lock's fencing token, a
                     number that increases with every holder (default ${runDefaults.fenceEnv})
  --grace <d>        when the lock is lost: time between the SIGTERM sent to the command and a
                     SIGKILL (default ${runDefaults.grace / 1000}s)
  --verbose          report acquisition, renewal failures and release on stderr
  -h, --help         this help

SIGINT, SIGTERM and SIGHUP sent to dlock are passed on to the command; while dlock still waits
for the lock they stop the wait instead. If the lock is lost (its lease ran out, or the key was
deleted), the command gets SIGTERM, then SIGKILL after --grace, and dlock exits ${ExitCode.LOST}.
Only the command's own process is signalled: in a shell wrapper, \`exec\` the real program.

${backendHelp}

Exit codes: the command's own code, or 128+N if signal N killed it (SIGTERM: 143), or
  ${ExitCode.USAGE}    bad usage (nothing was run)
  ${ExitCode.UNAVAILABLE}   the backend could not be reached (nothing was run)
  ${ExitCode.INTERNAL}   unexpected error
  ${ExitCode.TIMEOUT}   --wait passed while the lock was busy (nothing was run)
  ${ExitCode.LOST}   the lock was lost while the command ran; the command was stopped
  ${ExitCode.NOT_EXECUTABLE}  the command could not be executed; ${ExitCode.NOT_FOUND} it was not found
  128+N  a signal N reached dlock while it waited for the lock (nothing was run)

Examples:
  dlock run -b redis://127.0.0.1:6379 db-migrate --wait 5m -- npm run migrate
  dlock run -b etcd://10.0.0.1:2379,10.0.0.2:2379 --prefix "" jobs -- ./job.sh  # with etcdctl lock jobs`;

const inspect = `Usage: dlock inspect <key> [--json]

Shows who holds the lock <key>: the first 8 hex digits of the holder's token, how long its lease
has left and its fencing token. Exits 0 whether the lock is held or free.

Options:
  --json       one JSON object on stdout:
               {"key":"k","held":true,"holder":"1f2e3d4c","ttlRemaining":29500,"fencingToken":"17"}
               or {"key":"k","held":false}; fencingToken is a string (it may exceed 2^53),
               ttlRemaining is in ms (-1 when the backend cannot tell)
  -h, --help   this help

${backendHelp}

${exitCodes}`;

/** The help text of `command`, or the general one. */
export function helpText(command: CommandName | undefined): string {
  if (command === 'run') return run;
  if (command === 'inspect') return inspect;
  return general;
}

/** One usage line, printed under a usage error. */
export function usageLine(command: CommandName | undefined): string {
  if (command === 'run') return 'usage: dlock run <key> [options] -- <command> [args...]   (dlock run --help)';
  if (command === 'inspect') return 'usage: dlock inspect <key> [--json]   (dlock inspect --help)';
  return 'usage: dlock <run|inspect> <key> [options]   (dlock --help)';
}
