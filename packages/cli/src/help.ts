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
  dlock elect <name> [options] -- <command> [args...]  run a command as the elected leader
  dlock leader <name> [--json]                      show who leads an election
  dlock help [command]  |  dlock <command> --help  |  dlock --version

${backendHelp}

${exitCodes}
  ${ExitCode.TIMEOUT}   run/elect: --wait passed and the lock was still busy (another leader led)
  ${ExitCode.LOST}   run/elect: the lock (leadership) was lost while the command ran (it was stopped)
  otherwise run and elect exit with their command's code (128+N if a signal N killed it)

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

const elect = `Usage: dlock elect <name> [options] -- <command> [args...]

Campaigns in the election <name> and runs the command once elected (a watchdog renews the
leadership every ttl/3), then resigns. Start the same \`dlock elect\` on every pod or host:
exactly one runs the command at a time; the others wait as candidates (without polling) and the
next one is elected when the command ends, or --ttl after the leader's dlock died or hung.
For a job that must run once per schedule on one pod only, add --wait 0: the pods that are not
elected exit ${ExitCode.TIMEOUT} without running it.

Options:
  --value <v>        what the leader proclaims, shown by \`dlock leader\` (default <hostname>:<pid>)
  --ttl <d>          leadership lease: how long the leadership outlives a dlock that stops renewing
                     it (crash, pause, partition) (default ${runDefaults.ttl / 1000}s; etcd: whole seconds, at least 2s)
  --wait <d>         give up after campaigning this long, exit ${ExitCode.TIMEOUT} (default: as long as it
                     takes); --wait 0 campaigns once
  --fence-env <NAME> environment variable that gives the command the leader's term, a number
                     that increases with every leader: a fencing token (default ${runDefaults.fenceEnv})
  --grace <d>        when the leadership is lost: time between SIGTERM and SIGKILL (default ${runDefaults.grace / 1000}s)
  --verbose          report the campaign, renewal failures and the resign on stderr
  -h, --help         this help

Signals, a lost leadership and exit codes work as for \`dlock run\` (see dlock run --help).
Elections have their own default prefixes: "dlock:election" (Redis), "dlock/election/" (etcd).
On etcd, --prefix "" makes <name> the election of \`etcdctl elect <name>\` (Go's concurrency.Election).
Redlock has no elections.

${backendHelp}

Examples:
  dlock elect -b redis://redis:6379 nightly-billing --ttl 15s -- ./bill.sh
  dlock elect -b etcd://10.0.0.1:2379 --prefix "" scheduler --value "$POD_IP" -- ./scheduler`;

const leader = `Usage: dlock leader <name> [--json]

Shows who leads the election <name>: the value the leader proclaimed and its term. Exits 0
whether or not anyone leads.

Options:
  --json       one JSON object on stdout: {"name":"jobs","leader":true,"value":"pod-a","term":"17"}
               or {"name":"jobs","leader":false}; term is a string (it may exceed 2^53)
  -h, --help   this help

${backendHelp}

${exitCodes}`;

/** The help text of `command`, or the general one. */
export function helpText(command: CommandName | undefined): string {
  if (command === 'run') return run;
  if (command === 'inspect') return inspect;
  if (command === 'elect') return elect;
  if (command === 'leader') return leader;
  return general;
}

/** One usage line, printed under a usage error. */
export function usageLine(command: CommandName | undefined): string {
  if (command === 'run') return 'usage: dlock run <key> [options] -- <command> [args...]   (dlock run --help)';
  if (command === 'inspect') return 'usage: dlock inspect <key> [--json]   (dlock inspect --help)';
  if (command === 'elect') return 'usage: dlock elect <name> [options] -- <command> [args...]   (dlock elect --help)';
  if (command === 'leader') return 'usage: dlock leader <name> [--json]   (dlock leader --help)';
  return 'usage: dlock <run|inspect|elect|leader> <key|name> [options]   (dlock --help)';
}
