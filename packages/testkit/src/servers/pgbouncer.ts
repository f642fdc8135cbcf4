import { execFile } from 'node:child_process';
import { accessSync, chownSync, constants, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeDataDir } from './data-dir.js';
import { LocalServer, startOrCleanUp, type LocalServerSpec } from './local-server.js';
import { findBinary } from './mode.js';
import { reservePorts } from './ports.js';
import { probePostgres } from './postgres-probe.js';
import type { PostgresServer } from './postgres-types.js';
import type { ServerProcess } from './types.js';

const run = promisify(execFile);
/** The OS account that runs pgbouncer when the tests run as root (pgbouncer refuses root). */
const OS_USER = 'postgres';
const DEBIAN_PATH = '/usr/sbin/pgbouncer';

/** How PgBouncer hands server connections to clients (its `pool_mode`). */
export type PgBouncerPoolMode = 'session' | 'transaction' | 'statement';

/** Options for {@link startPgBouncer}. */
export interface PgBouncerOptions {
  /** The server every database name is routed to (a server from `startPostgres()`). */
  postgres: Pick<PostgresServer, 'port' | 'user'>;
  /** @default 'transaction' */
  poolMode?: PgBouncerPoolMode;
  /**
   * Server connections per user and database (`default_pool_size`): with 1, every client of
   * that database shares one server session, which makes session-state mistakes show at once.
   * @default 10
   */
  poolSize?: number;
}

/** A PgBouncer started by {@link startPgBouncer}. */
export interface PgBouncerServer extends ServerProcess {
  /** `postgres://<user>@127.0.0.1:<port>/postgres` (trust authentication: no password). */
  readonly url: string;
  readonly poolMode: PgBouncerPoolMode;
  readonly poolSize: number;
}

/** The options with their defaults filled in. */
type Settings = Required<PgBouncerOptions>;

/** The config file for `port`: every database name goes to the PostgreSQL server, trust auth. */
function iniText(port: number, { postgres, poolMode, poolSize }: Settings, dir: string): string {
  return [
    '[databases]',
    `* = host=127.0.0.1 port=${postgres.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    // No Unix socket: nothing outside the test should find this pooler.
    'unix_socket_dir =',
    // trust still needs the user to be in the auth file (any password, none checked).
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    `pool_mode = ${poolMode}`,
    `default_pool_size = ${poolSize}`,
    'max_client_conn = 500',
    // pg and psql may send these; PgBouncer refuses unknown startup parameters otherwise.
    'ignore_startup_parameters = extra_float_digits,options',
    // Give a test's short-lived server connections back quickly, and say little in the log.
    'server_lifetime = 60',
    'server_idle_timeout = 10',
    'log_connections = 0',
    'log_disconnections = 0',
    'stats_period = 3600',
    '',
  ].join('\n');
}

/** The uid and gid of {@link OS_USER} when running as root (else undefined: run as we are). */
async function dropRootTo(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout: uid } = await run('id', ['-u', OS_USER]).catch(() => {
    throw new Error(`dlock test servers: running as root needs the "${OS_USER}" OS user to run pgbouncer (the postgresql package creates it)`);
  });
  const { stdout: gid } = await run('id', ['-g', OS_USER]);
  return { uid: Number(uid), gid: Number(gid) };
}

/** pgbouncer on PATH, else where Debian's package puts it (/usr/sbin is not on every PATH). */
function pgbouncerBinary(): string {
  const found = findBinary('pgbouncer');
  if (found !== undefined) return found;
  try {
    accessSync(DEBIAN_PATH, constants.X_OK);
    return DEBIAN_PATH;
  } catch {
    // not installed
  }
  throw new Error('dlock test servers: pgbouncer is not installed: `apt-get install pgbouncer` (scripts/setup-test-env.sh does)');
}

class LocalPgBouncer extends LocalServer implements PgBouncerServer {
  readonly poolMode: PgBouncerPoolMode;
  readonly poolSize: number;
  readonly #user: string;

  constructor(binary: string, ports: number[], dir: string, settings: Settings, owner: { uid: number; gid: number } | undefined) {
    const prefix = owner === undefined ? [] : [`--reuid=${OS_USER}`, `--regid=${OS_USER}`, '--init-groups', '--', binary];
    const setpriv = owner === undefined ? undefined : findBinary('setpriv');
    if (owner !== undefined && setpriv === undefined) throw new Error('dlock test servers: running as root needs setpriv (util-linux) to start pgbouncer as the postgres user');
    const spec: LocalServerSpec = {
      kind: 'pgbouncer',
      binary: setpriv ?? binary,
      dataDir: dir,
      ports,
      // The port is in the config file, and the harness may move to other ports before the
      // first start succeeds: the file is written for the ports of each spawn.
      args: (): string[] => {
        const port = spec.ports[0] ?? 0;
        const ini = path.join(dir, `pgbouncer-${port}.ini`);
        writeFileSync(ini, iniText(port, settings, dir));
        if (owner !== undefined) chownSync(ini, owner.uid, owner.gid);
        return [...prefix, ini];
      },
      probe: (): Promise<boolean> => probePostgres(spec.ports[0] ?? 0, settings.postgres.user),
    };
    super(spec);
    this.poolMode = settings.poolMode;
    this.poolSize = settings.poolSize;
    this.#user = settings.postgres.user;
  }

  get url(): string {
    return `postgres://${this.#user}@127.0.0.1:${this.port}/postgres`;
  }
}

const poolModes: readonly PgBouncerPoolMode[] = ['session', 'transaction', 'statement'];

/**
 * Starts PgBouncer (always a local process: `apt-get install pgbouncer`) on a free 127.0.0.1
 * port in front of `options.postgres`, in `transaction` pool mode unless told otherwise, with
 * trust authentication for the server's user; resolves once a client gets through to the
 * server. As root it runs as the `postgres` user. Stop it before the server.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerServer> {
  const poolMode = options.poolMode ?? 'transaction';
  const poolSize = options.poolSize ?? 10;
  if (!poolModes.includes(poolMode)) throw new TypeError(`startPgBouncer: poolMode must be one of ${poolModes.join(', ')}, got ${String(poolMode)}`);
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new TypeError(`startPgBouncer: poolSize must be an integer >= 1, got ${String(poolSize)}`);
  const binary = pgbouncerBinary();
  const owner = await dropRootTo();
  const dir = makeDataDir('pgbouncer');
  const userlist = path.join(dir, 'userlist.txt');
  writeFileSync(userlist, `"${options.postgres.user}" ""\n`);
  if (owner !== undefined) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(userlist, owner.uid, owner.gid);
  }
  const server = new LocalPgBouncer(binary, await reservePorts(1), dir, { postgres: options.postgres, poolMode, poolSize }, owner);
  return startOrCleanUp(server);
}
