import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeDataDir } from './data-dir.js';
import { LocalServer, startOrCleanUp, type LocalServerSpec } from './local-server.js';
import { findBinary, serverMode } from './mode.js';
import { reservePorts } from './ports.js';
import { onExitSync, procState } from './process.js';
import { probePostgres } from './postgres-probe.js';
import type { PostgresOptions, PostgresServer } from './postgres-types.js';
import type { RestartOptions } from './types.js';

const run = promisify(execFile);
const SUPERUSER = 'postgres';
/** The OS account that runs the server when the tests run as root (PostgreSQL refuses root). */
const OS_USER = 'postgres';

/** Programs the local mode runs: the server, initdb, and (as root) the tools that drop root. */
interface Programs {
  postgres: string;
  initdb: string;
  /** Set when running as root: `setpriv` (execs, so the pid stays the server's) and `runuser`. */
  asUser?: { setpriv: string; runuser: string; uid: number; gid: number };
}

function installError(what: string): Error {
  return new Error(
    `dlock test servers: neither a container engine nor ${what} is available. Install PostgreSQL with ` +
      '`apt-get install postgresql` (Debian keeps its programs in /usr/lib/postgresql/<version>/bin, found there), or start Docker.',
  );
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `name` on PATH, else in the newest /usr/lib/postgresql/<version>/bin (where Debian keeps it). */
function findPostgresBinary(name: string): string | undefined {
  const onPath = findBinary(name);
  if (onPath !== undefined) return onPath;
  let versions: string[];
  try {
    versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => path.join('/usr/lib/postgresql', version, 'bin', name)).find(executable);
}

async function programs(): Promise<Programs> {
  const postgres = findPostgresBinary('postgres');
  const initdb = findPostgresBinary('initdb');
  if (postgres === undefined || initdb === undefined) throw installError('PostgreSQL (postgres, initdb)');
  if (process.getuid?.() !== 0) return { postgres, initdb };
  const setpriv = findBinary('setpriv');
  const runuser = findBinary('runuser');
  if (setpriv === undefined || runuser === undefined) throw new Error('dlock test servers: running as root needs setpriv and runuser (util-linux) to start postgres as the postgres user');
  const { stdout: uid } = await run('id', ['-u', OS_USER]).catch(() => {
    throw new Error(`dlock test servers: running as root needs the "${OS_USER}" OS user to run postgres (the postgresql package creates it)`);
  });
  const { stdout: gid } = await run('id', ['-g', OS_USER]);
  return { postgres, initdb, asUser: { setpriv, runuser, uid: Number(uid), gid: Number(gid) } };
}

/** initdb into `<dir>/data` (trust authentication, superuser `postgres`, no fsync), as the postgres user when root. */
async function initDataDir(p: Programs, dir: string): Promise<void> {
  if (p.asUser !== undefined) await chown(dir, p.asUser.uid, p.asUser.gid);
  const args = ['-D', path.join(dir, 'data'), '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
  const [command, commandArgs] = p.asUser === undefined ? [p.initdb, args] : [p.asUser.runuser, ['-u', OS_USER, '--', p.initdb, ...args]];
  try {
    await run(command, commandArgs, { cwd: os.tmpdir() });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`initdb failed (${[command, ...commandArgs].join(' ')}):\n${stdout}${stderr}`, { cause: error });
  }
}

/** Pids of the live processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Polls (every 10 ms, up to `timeoutMs`) until every pid's /proc state passes `done` (a gone pid passes). */
async function waitStates(pids: readonly number[], done: (state: string) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !pids.every((pid) => { const state = procState(pid); return state === undefined || done(state); })) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const stopped = (state: string): boolean => state === 'T' || state === 't';
const dead = (state: string): boolean => state === 'Z' || state === 'X';

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * A postgres server process (the local mode). Every backend is a child of the postmaster in a
 * session of its own, so kill, pause and resume signal the postmaster's children too (the
 * postmaster is stopped first, so that it forks no new one meanwhile); stop and restart ask for
 * a fast shutdown (SIGINT: sessions are ended) instead of SIGTERM, which would wait for every
 * client to leave.
 */
class LocalPostgresServer extends LocalServer implements PostgresServer {
  readonly user = SUPERUSER;
  readonly database = SUPERUSER;
  /** Children stopped by pause(): at exit they get SIGKILL (orphans stay stopped otherwise). */
  #paused: number[] = [];
  #stopping = false;
  readonly #forgetExitHook: () => void;

  constructor(p: Programs, ports: number[], dataDir: string, extraArgs: readonly string[]) {
    const [binary, ...prefix] =
      p.asUser === undefined ? [p.postgres] : [p.asUser.setpriv, `--reuid=${OS_USER}`, `--regid=${OS_USER}`, '--init-groups', '--', p.postgres];
    const spec: LocalServerSpec = {
      kind: 'postgres',
      // setpriv drops root and execs postgres: the pid is the postmaster's.
      binary: binary ?? p.postgres,
      dataDir,
      ports,
      args: (): string[] => [
        ...prefix,
        '-D', path.join(dataDir, 'data'),
        '-p', String(spec.ports[0]),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        // Test data: nothing needs to survive a machine crash (a killed server keeps its commits).
        '-c', 'fsync=off',
        '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=16MB',
        '-c', 'max_connections=200',
        ...extraArgs,
      ],
      probe: (): Promise<boolean> => probePostgres(spec.ports[0] ?? 0, SUPERUSER),
      beforeEmptyStart: () => initDataDir(p, dataDir),
    };
    super(spec);
    this.#forgetExitHook = onExitSync(() => {
      for (const pid of this.#paused) signal(pid, 'SIGKILL');
    });
  }

  get url(): string {
    return `postgres://${SUPERUSER}@127.0.0.1:${this.port}/${SUPERUSER}`;
  }

  override async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#fastShutdown();
    }
    try {
      await super.stop();
    } finally {
      this.#forgetExitHook();
    }
  }

  override async kill(): Promise<void> {
    const pid = this.pid;
    const children = pid === undefined ? [] : (signal(pid, 'SIGSTOP'), childrenOf(pid));
    for (const child of children) signal(child, 'SIGKILL');
    this.#paused = [];
    await super.kill();
    await waitStates(children, dead, 5_000);
  }

  override async pause(): Promise<void> {
    await super.pause();
    const pid = this.pid;
    if (pid === undefined) return;
    this.#paused = childrenOf(pid);
    for (const child of this.#paused) signal(child, 'SIGSTOP');
    await waitStates(this.#paused, stopped, 1_000);
  }

  override async resume(): Promise<void> {
    this.#continueChildren();
    await super.resume();
  }

  override async restart(options: RestartOptions = {}): Promise<void> {
    this.#fastShutdown();
    await super.restart(options);
  }

  #continueChildren(): void {
    const pid = this.pid;
    const children = pid === undefined ? this.#paused : [...new Set([...this.#paused, ...childrenOf(pid)])];
    for (const child of children) signal(child, 'SIGCONT');
    this.#paused = [];
  }

  /** SIGINT to the postmaster (fast shutdown), after continuing a paused server. */
  #fastShutdown(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    this.#continueChildren();
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGINT');
  }
}

async function startLocalPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const p = await programs();
  const dataDir = makeDataDir('postgres');
  const server = new LocalPostgresServer(p, await reservePorts(1), dataDir, options.args ?? []);
  try {
    await initDataDir(p, dataDir);
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return startOrCleanUp(server);
}

/**
 * Starts one PostgreSQL server on a free 127.0.0.1 port (own temp data dir, trust
 * authentication, superuser `postgres`, no fsync) and resolves once it accepts a connection.
 * Uses Docker or the local binaries (Debian's `postgresql` package; as root, the server runs as
 * the `postgres` user) as `serverMode()` decides.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  if ((await serverMode()) === 'docker') {
    const { startPostgresContainer } = await import('./postgres-docker.js');
    return startPostgresContainer(options);
  }
  return startLocalPostgres(options);
}
