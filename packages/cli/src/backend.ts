import type { DistributedLock, Election } from '@dlock/core';
import { UsageError } from './usage-error.js';

/** A backend named on the command line, parsed (nothing connected yet). */
export type BackendSpec =
  | { readonly kind: 'memory' }
  | { readonly kind: 'redis'; readonly url: string }
  | { readonly kind: 'etcd'; readonly hosts: readonly string[] }
  | { readonly kind: 'redlock'; readonly nodes: readonly string[] };

/** The forms `--backend` / `DLOCK_BACKEND` take, as the messages show them. */
export const backendForms = 'memory, redis://host:port, rediss://host:port, etcd://host:port[,host:port...], redlock://host:port,host:port,host:port';

const etcdDefaultPort = 2379;
const redisDefaultPort = 6379;

/**
 * Parses a backend: `memory`; `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS),
 * passed to ioredis as is; `etcd://host:port[,host:port…]` (the cluster's client endpoints,
 * port 2379 by default); `redlock://host:port,host:port,host:port` (independent Redis masters,
 * each `[user:password@]host[:port][/db]`, port 6379 by default).
 *
 * @throws UsageError for anything else, naming the accepted forms.
 * @example
 * ```ts
 * parseBackend('etcd://10.0.0.1:2379,10.0.0.2:2379'); // { kind: 'etcd', hosts: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'] }
 * ```
 */
export function parseBackend(text: string): BackendSpec {
  const spec = text.trim();
  if (spec === 'memory') return { kind: 'memory' };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(spec);
  if (scheme === null) throw new UsageError(`unknown backend "${redact(spec)}": expected one of ${backendForms}`);
  const name = scheme[1]!.toLowerCase();
  const rest = scheme[2]!;
  switch (name) {
    case 'redis':
    case 'rediss':
      address(`${name}://${rest}`, spec, redisDefaultPort);
      return { kind: 'redis', url: spec };
    case 'etcd':
      return { kind: 'etcd', hosts: list(rest, spec).map((item) => etcdHost(item, spec)) };
    case 'redlock':
      return { kind: 'redlock', nodes: list(rest, spec).map((item) => address(`redis://${item}`, spec, redisDefaultPort).href) };
    default:
      throw new UsageError(`unknown backend "${redact(spec)}": expected one of ${backendForms}`);
  }
}

/** The backend as messages show it: the scheme and addresses, without passwords. */
export function describeBackend(spec: BackendSpec): string {
  switch (spec.kind) {
    case 'memory':
      return 'memory';
    case 'redis':
      return redact(spec.url);
    case 'etcd':
      return `etcd://${spec.hosts.map((host) => new URL(host).host).join(',')}`;
    case 'redlock':
      return `redlock://${spec.nodes.map((node) => new URL(node).host).join(',')}`;
  }
}

/** Options every backend is opened with. */
export interface OpenOptions {
  /** Namespace of the backend's keys (the backend's default when undefined; not used by memory). */
  readonly prefix?: string | undefined;
  /** The engine's `unavailableTimeout`: how long a wait rides out a failing backend, in ms. */
  readonly unavailableTimeout?: number | undefined;
}

/**
 * Creates the lock for `spec`, loading only that backend's package. The lock owns its clients:
 * `close()` ends them.
 */
export async function openBackend(spec: BackendSpec, options: OpenOptions = {}): Promise<DistributedLock> {
  const engine = options.unavailableTimeout === undefined ? {} : { unavailableTimeout: options.unavailableTimeout };
  const prefix = options.prefix === undefined ? {} : { prefix: options.prefix };
  switch (spec.kind) {
    case 'memory': {
      const { MemoryLock } = await import('@dlock/core');
      return new MemoryLock(engine);
    }
    case 'redis': {
      const { RedisLock } = await import('@dlock/redis');
      return new RedisLock(spec.url, { ...engine, ...prefix });
    }
    case 'etcd': {
      const { EtcdMutex } = await import('@dlock/etcd');
      return new EtcdMutex({ hosts: [...spec.hosts] }, { ...engine, ...prefix });
    }
    case 'redlock': {
      const { Redlock } = await import('@dlock/redlock');
      return new Redlock([...spec.nodes], { ...engine, ...prefix });
    }
  }
}

/**
 * Creates the election for `spec` (memory, Redis or etcd; the command line refuses Redlock before
 * this), loading only that backend's package. The election owns its clients: `close()` ends them.
 */
export async function openElection(spec: BackendSpec, options: OpenOptions = {}): Promise<Election> {
  const engine = options.unavailableTimeout === undefined ? {} : { unavailableTimeout: options.unavailableTimeout };
  const prefix = options.prefix === undefined ? {} : { prefix: options.prefix };
  switch (spec.kind) {
    case 'memory': {
      const { MemoryElection } = await import('@dlock/core');
      return new MemoryElection(engine);
    }
    case 'redis': {
      const { RedisElection } = await import('@dlock/redis');
      return new RedisElection(spec.url, { ...engine, ...prefix });
    }
    case 'etcd': {
      const { EtcdElection } = await import('@dlock/etcd');
      return new EtcdElection({ hosts: [...spec.hosts] }, { ...engine, ...prefix });
    }
    case 'redlock':
      throw new UsageError('elections need one Redis server (redis://), etcd (etcd://) or memory; Redlock offers a mutex only');
  }
}

/** Comma-separated addresses after the scheme; none empty. */
function list(rest: string, spec: string): string[] {
  const items = rest.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw new UsageError(`backend "${redact(spec)}" needs comma-separated host:port addresses, with none empty`);
  }
  return items;
}

/** A parsed address; refuses anything but `[auth@]host[:port][/path]`. */
function address(url: string, spec: string, defaultPort: number): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`backend "${redact(spec)}" has a malformed address: expected host:port`);
  }
  if (parsed.hostname === '' || parsed.search !== '' || parsed.hash !== '') {
    throw new UsageError(`backend "${redact(spec)}" has a malformed address: expected host:port`);
  }
  if (parsed.port === '') parsed.port = String(defaultPort);
  return parsed;
}

function etcdHost(item: string, spec: string): string {
  const parsed = address(`http://${item}`, spec, etcdDefaultPort);
  if (parsed.username !== '' || parsed.password !== '' || parsed.pathname !== '/') {
    throw new UsageError(`backend "${redact(spec)}": an etcd address is host:port only (no user, password or path)`);
  }
  return `http://${parsed.host}`;
}

/** `redis://user:secret@h` -> `redis://user:***@h`, for messages. */
export function redact(text: string): string {
  return text.replace(/(\/\/|,)([^:@/,]*):[^@/,]*@/g, '$1$2:***@');
}
