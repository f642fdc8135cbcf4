import { etcdRequest } from '../servers/etcd-api.js';
import { startEtcd, startEtcdCluster, startPostgres, startRedis, startRedisNodes } from '../servers/index.js';
import type { EtcdCluster, ServerProcess } from '../servers/types.js';
import { backendModule, type ModuleLocation } from './locate.js';
import { queryFirstColumn } from './postgres-query.js';
import { scanKeys } from './redis-scan.js';
import type { BackendId, Primitive } from './types.js';

/** A server's client address (the server itself, or a proxy in front of it). */
export interface Endpoint {
  host: string;
  port: number;
}

/** The servers one row runs against. */
export interface Deployment {
  /** The servers, for fault injection: the Redis server, the Redlock nodes, the etcd members or the PostgreSQL server. */
  servers: ServerProcess[];
  /** The etcd cluster, when the topology is one (to find its leader). */
  cluster?: EtcdCluster;
  /** The servers' own client addresses, in `servers` order. */
  endpoints: Endpoint[];
  /** What the worker adapter gets, pointing at `endpoints` (the real ones, or proxies). */
  connection(endpoints: readonly Endpoint[]): unknown;
  /** Lock keys under `prefix` still on the servers that are up (not fencing counters). */
  lockKeys(prefix: string): Promise<string[]>;
  /** Stops every server. */
  stop(): Promise<void>;
}

/** How the checker drives one backend: where its build is, what it promises, how to deploy it. */
export interface BackendSpec {
  id: BackendId;
  /** What its workers acquire. */
  primitive: Primitive;
  /** The package under packages/ (and `@dlock/<pkg>`). */
  pkg: 'redis' | 'redlock' | 'etcd' | 'postgres';
  /** The class the worker adapter constructs. */
  exportName: string;
  fencing: 'strict' | 'none';
  /** Shortest TTL worth asking for (etcd leases are whole seconds, at least 2 s with fast elections). */
  minTtlMs: number;
  /**
   * How long the server keeps the place of a waiter that stopped asking (the waiters of a paused
   * or killed process) beyond the retry delay it was last given: it holds up the callers behind
   * it, and its keys stay, that long. Undefined when waiters keep no place on the server.
   */
  waitPlaceMs?: number;
  /** Lock options for workers: a fresh prefix per row keeps rows apart on shared servers. */
  lockOptions(prefix: string): Record<string, unknown>;
  /** A unique prefix in this backend's key syntax (for PostgreSQL: the `table` option, tables of the row's own). */
  prefix(): string;
  /** Starts the servers: `single` (one server, or the Redlock node set) or an etcd `cluster`. */
  deploy(topology: 'single' | 'cluster'): Promise<Deployment>;
}

function uniquePrefix(): string {
  return `safety-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Release latches (`<lock>:released:<token>`, an election's `<leader>:resigned:<token>`): written
 * by every release or resign, they expire by themselves within 2 x the operation timeout (their
 * lifetime is checked by the resend tests).
 */
const releaseLatch = /:(released|resigned):[0-9a-f]{32}$/;

/**
 * Lock keys (not `:fence` counters or an election's `:term` counter, not release latches) under
 * `<prefix>:` on one Redis server.
 */
async function redisLockKeys(port: number, prefix: string): Promise<string[]> {
  return (await scanKeys(port, `${prefix}:*`)).filter((key) => !/:(fence|term)$/.test(key) && !releaseLatch.test(key));
}

/** Every key under `prefix` on an etcd member, through its HTTP gateway. */
async function etcdKeys(port: number, prefix: string): Promise<string[]> {
  const key = Buffer.from(prefix);
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1; // prefixes here end in '/', never 0xff
  const reply = await etcdRequest<{ kvs?: Array<{ key: string }> }>(
    port,
    'POST',
    '/v3/kv/range',
    { key: key.toString('base64'), range_end: end.toString('base64'), keys_only: true },
    3_000,
  );
  return (reply.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString('utf8'));
}

function isUp(server: ServerProcess): boolean {
  return server.pid !== undefined;
}

async function deployRedis(count: number): Promise<Deployment> {
  const servers = count === 1 ? [await startRedis()] : [...(await startRedisNodes(count))];
  return {
    servers,
    endpoints: servers.map((s) => ({ host: s.host, port: s.port })),
    connection: (endpoints) => (count === 1 ? { ...endpoints[0] } : { nodes: endpoints.map((e) => ({ ...e })) }),
    async lockKeys(prefix) {
      const lists = await Promise.all(servers.filter(isUp).map((s) => redisLockKeys(s.port, prefix)));
      return lists.flatMap((keys, i) => keys.map((key) => (count === 1 ? key : `node${i}:${key}`)));
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

async function deployEtcd(topology: 'single' | 'cluster'): Promise<Deployment> {
  const cluster = topology === 'cluster' ? await startEtcdCluster(3) : undefined;
  const servers = cluster?.members ?? [await startEtcd()];
  return {
    servers,
    ...(cluster === undefined ? {} : { cluster }),
    endpoints: servers.map((s) => ({ host: s.host, port: s.port })),
    connection: (endpoints) => ({ endpoints: endpoints.map((e) => `http://${e.host}:${e.port}`) }),
    async lockKeys(prefix) {
      const up = servers.filter(isUp);
      const first = up[0];
      return first === undefined ? [] : etcdKeys(first.port, prefix);
    },
    async stop() {
      if (cluster !== undefined) await cluster.stop();
      else await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/**
 * The live rows of a row's PostgreSQL table(s), by key: what `lockKeys` reports. `table` is the
 * row's prefix (the lock's `table` option).
 */
type LiveRowsSql = (table: string) => string;

/**
 * `PostgresLock`'s rows whose lease has not ended (a released row stays, with its lease ended,
 * until a later acquire reuses or deletes it: that is not a leak), and the places in its wait
 * list (`<table>_waits`, fair by default) that have not ended.
 */
const liveLocks: LiveRowsSql = (table) =>
  `SELECT key FROM "${table}" WHERE expires_at > now() UNION ALL SELECT key FROM "${table}_waits" WHERE place_until > now()`;

/**
 * The claims table of `PostgresReadWriteLock` and `PostgresSemaphore` (`<table>_claims`): its
 * holders and waiters' places whose lease or place has not ended. Releases and departures delete
 * their rows; ended ones are purged by the next acquire of the key or the cleanup, so they are
 * not leaks. Each shows as `key (its claim)` or `key (waiting)`.
 */
const liveClaims: LiveRowsSql = (table) =>
  `SELECT key || ' (' || CASE WHEN fence IS NULL THEN 'waiting' ELSE kind END || ')' FROM "${table}_claims" WHERE expires_at > now()`;

/**
 * One PostgreSQL server. Each row's workers use tables of their own (named by the row's prefix,
 * created by the workers' `migrate()`); its lock keys are the live rows `liveRows` finds.
 */
async function deployPostgres(liveRows: LiveRowsSql): Promise<Deployment> {
  const server = await startPostgres();
  return {
    servers: [server],
    endpoints: [{ host: server.host, port: server.port }],
    connection: (endpoints) => ({ host: endpoints[0]?.host, port: endpoints[0]?.port, user: server.user, database: server.database }),
    async lockKeys(table) {
      if (!isUp(server)) return [];
      // The table may not exist when no worker got as far as migrate(): then no key is left.
      const keys = await queryFirstColumn(server.port, liveRows(table)).catch((error: unknown) => {
        if (error instanceof Error && / 42P01: /.test(error.message)) return [];
        throw error;
      });
      return keys.flatMap((key) => (key === null ? [] : [key]));
    },
    async stop() {
      await server.stop();
    },
  };
}

/** A table per row: letters, digits and `_` (the PostgreSQL classes' identifier rule). */
const postgresPrefix = (): string => uniquePrefix().replaceAll('-', '_');

/**
 * How long a server-side wait list (Redis, and the PostgreSQL claims table) keeps a silent
 * waiter's place beyond its retry delay: core's `waitListPlaceMs` at the default `maxRetryDelay`
 * (1 s), that is 1 s + 2 s.
 */
const WAIT_LIST_PLACE_MS = 3_000;

const etcdOptions = (prefix: string): Record<string, unknown> => ({ prefix, callTimeout: 1_000, leaseIdleTimeout: 0 });

/**
 * Redis with the read-write lock, the semaphore or the election, built like `RedisLock`. The
 * claims keep every waiter's place in the key's wait list, for the default `maxRetryDelay` (1 s)
 * plus 2 s (core's `waitListPlaceMs`); an election's candidates keep none.
 */
function redisPrimitive(id: BackendId, primitive: Primitive, exportName: string): BackendSpec {
  return {
    id,
    primitive,
    pkg: 'redis',
    exportName,
    fencing: 'strict',
    minTtlMs: 1,
    ...(primitive === 'election' ? {} : { waitPlaceMs: WAIT_LIST_PLACE_MS }),
    prefix: uniquePrefix,
    lockOptions: (prefix) => ({ prefix }),
    deploy: () => deployRedis(1),
  };
}

/** etcd with the read-write lock, the semaphore or the election, built like `EtcdMutex`. */
function etcdPrimitive(id: BackendId, primitive: Primitive, exportName: string): BackendSpec {
  return { id, primitive, pkg: 'etcd', exportName, fencing: 'strict', minTtlMs: 2_000, prefix: () => `${uniquePrefix()}/`, lockOptions: etcdOptions, deploy: deployEtcd };
}

/**
 * PostgreSQL with the read-write lock or the semaphore, in the claims table `<prefix>_claims`.
 * Waiters keep places there (rows without a fence) as long as Redis's wait list keeps them.
 */
function postgresPrimitive(id: BackendId, primitive: Primitive, exportName: string): BackendSpec {
  return {
    id,
    primitive,
    pkg: 'postgres',
    exportName,
    fencing: 'strict',
    minTtlMs: 1,
    waitPlaceMs: WAIT_LIST_PLACE_MS,
    prefix: postgresPrefix,
    lockOptions: (table) => ({ table }),
    deploy: () => deployPostgres(liveClaims),
  };
}

/** The backends the checker knows, in report order: the mutexes, then the other primitives. */
export const backends: readonly BackendSpec[] = [
  {
    id: 'redis',
    primitive: 'mutex',
    pkg: 'redis',
    exportName: 'RedisLock',
    fencing: 'strict',
    minTtlMs: 1,
    // Fair by default: its waiters keep places in the key's wait list too.
    waitPlaceMs: WAIT_LIST_PLACE_MS,
    prefix: uniquePrefix,
    lockOptions: (prefix) => ({ prefix }),
    deploy: () => deployRedis(1),
  },
  {
    id: 'etcd-mutex',
    primitive: 'mutex',
    pkg: 'etcd',
    exportName: 'EtcdMutex',
    fencing: 'strict',
    minTtlMs: 2_000,
    prefix: () => `${uniquePrefix()}/`,
    lockOptions: etcdOptions,
    deploy: deployEtcd,
  },
  {
    id: 'etcd-lock',
    primitive: 'mutex',
    pkg: 'etcd',
    exportName: 'EtcdLock',
    fencing: 'strict',
    minTtlMs: 2_000,
    prefix: () => `${uniquePrefix()}/`,
    lockOptions: etcdOptions,
    deploy: deployEtcd,
  },
  {
    id: 'redlock',
    primitive: 'mutex',
    pkg: 'redlock',
    exportName: 'Redlock',
    fencing: 'strict',
    minTtlMs: 10,
    prefix: uniquePrefix,
    // 250 ms, not the default 100: a loaded 2-core CI machine can starve a process that long; the
    // node timeout bears on availability, not on safety (validity accounts for elapsed time).
    lockOptions: (prefix) => ({ prefix, nodeTimeout: 250, fencing: 'strict' }),
    deploy: () => deployRedis(5),
  },
  {
    id: 'postgres',
    primitive: 'mutex',
    pkg: 'postgres',
    exportName: 'PostgresLock',
    fencing: 'strict',
    minTtlMs: 1,
    // Fair by default: its waiters keep places in the table's wait list too.
    waitPlaceMs: WAIT_LIST_PLACE_MS,
    prefix: postgresPrefix,
    lockOptions: (table) => ({ table }),
    deploy: () => deployPostgres(liveLocks),
  },
  redisPrimitive('redis-rw', 'rw', 'RedisReadWriteLock'),
  etcdPrimitive('etcd-rw', 'rw', 'EtcdReadWriteLock'),
  postgresPrimitive('postgres-rw', 'rw', 'PostgresReadWriteLock'),
  redisPrimitive('redis-semaphore', 'semaphore', 'RedisSemaphore'),
  etcdPrimitive('etcd-semaphore', 'semaphore', 'EtcdSemaphore'),
  postgresPrimitive('postgres-semaphore', 'semaphore', 'PostgresSemaphore'),
  redisPrimitive('redis-election', 'election', 'RedisElection'),
  etcdPrimitive('etcd-election', 'election', 'EtcdElection'),
];

/** The spec of `id`. */
export function backendSpec(id: BackendId): BackendSpec {
  const spec = backends.find((b) => b.id === id);
  if (spec === undefined) throw new RangeError(`unknown safety backend ${id}`);
  return spec;
}

/**
 * Whether `spec`'s package is built and exports its class: the module URL for workers, or why
 * the backend is skipped.
 */
export async function locateBackend(spec: BackendSpec): Promise<ModuleLocation> {
  const location = backendModule(spec.pkg);
  if (!location.ok) return location;
  try {
    const module = (await import(location.url)) as Record<string, unknown>;
    if (typeof module[spec.exportName] !== 'function') {
      return { ok: false, reason: `${location.file} does not export ${spec.exportName} yet (rebuild: pnpm --filter @dlock/${spec.pkg} build)` };
    }
  } catch (error) {
    return { ok: false, reason: `${location.file} failed to load: ${error instanceof Error ? error.message : String(error)}` };
  }
  return location;
}
