import { InvalidOptionError } from '@dlock/core';
import pg from 'pg';
import type { PgClientConfig, PgClientLike, PgPoolLike, PgQueryable, PgQueryConfig, PgQueryResult } from './types.js';

/** What a `PostgresLock` is constructed with: a pool, a connected client, or a connection string. */
export type PostgresSource = PgPoolLike | PgClientLike | string;

/** Where the LISTEN connection comes from: its settings (a new connection), or the caller's client. */
export type ListenSource = { readonly kind: 'open'; readonly config: PgClientConfig } | { readonly kind: 'borrow'; readonly client: PgClientLike };

/** The statements' connection(s), resolved from a {@link PostgresSource}. */
export interface ResolvedConnection {
  /** Runs one statement (a pool lends a connection for it). */
  readonly queryable: PgQueryable;
  /** Whether the lock created the pool (and ends it on close). */
  readonly owned: boolean;
  /** The default place of the LISTEN connection, when the `listen` option does not name one. */
  readonly listen: ListenSource;
  /** Ends what the lock created. */
  close(): Promise<void>;
}

const isPool = (source: object): source is PgPoolLike => typeof (source as { totalCount?: unknown }).totalCount === 'number';
const isQueryable = (source: object): source is PgQueryable => typeof (source as { query?: unknown }).query === 'function';

/**
 * Checks the constructor's first argument without any I/O: a non-empty connection string, or an
 * object with `query` (a pool when it has `totalCount`, else a connected client).
 */
export function validateSource(source: unknown): PostgresSource {
  if (typeof source === 'string' && source.trim() !== '') return source;
  if (typeof source === 'object' && source !== null && isQueryable(source)) {
    if (isPool(source)) return source;
    const client = source as Partial<PgClientLike>;
    if (typeof client.on === 'function' && typeof client.removeListener === 'function') return source as PgClientLike;
  }
  throw new InvalidOptionError('client', 'a pg.Pool, a connected pg.Client or a connection string', source);
}

/** Checks the `listen` option without any I/O: a non-empty connection string, a `pg` ClientConfig, or `false`. */
export function validateListen(listen: unknown): ListenSource | false | undefined {
  if (listen === undefined || listen === false) return listen;
  if (typeof listen === 'string' && listen.trim() !== '') return { kind: 'open', config: { connectionString: listen } };
  if (typeof listen === 'object' && listen !== null && !Array.isArray(listen)) return { kind: 'open', config: listen };
  throw new InvalidOptionError('listen', 'a connection string, a pg ClientConfig or false', listen);
}

/**
 * Creates the pool for a connection string (its connect and queue waits bounded by
 * `operationTimeout`), or adopts the caller's pool or client.
 */
export function resolveConnection(source: PostgresSource, operationTimeout: number): ResolvedConnection {
  if (typeof source === 'string') {
    const config = { connectionString: source, connectionTimeoutMillis: operationTimeout };
    const pool = new pg.Pool(config);
    // A pooled connection that breaks while idle (a server restart) is an 'error' event of the
    // pool: dropped, and the next statement opens a new connection.
    pool.on('error', () => undefined);
    return { queryable: pool, owned: true, listen: { kind: 'open', config }, close: () => pool.end() };
  }
  if (isPool(source)) {
    // The pool's own settings open the dedicated LISTEN connection, outside the pool.
    return { queryable: source, owned: false, listen: { kind: 'open', config: source.options ?? {} }, close: async () => {} };
  }
  return { queryable: source, owned: false, listen: { kind: 'borrow', client: source as PgClientLike }, close: async () => {} };
}

/** Runs `config` with a client-side timeout (pg's `query_timeout`, which works on any pool or client). */
export function runQuery(queryable: PgQueryable, config: PgQueryConfig, timeoutMs: number): Promise<PgQueryResult> {
  return queryable.query({ ...config, query_timeout: timeoutMs });
}

/** Opens a new client for LISTEN with `config`, its connect bounded by `timeoutMs`. */
export async function openClient(config: PgClientConfig, timeoutMs: number): Promise<PgClientLike & { end(): Promise<void> }> {
  const client = new pg.Client({ ...(config as pg.ClientConfig), connectionTimeoutMillis: timeoutMs });
  // Errors also end the client (the listener sees 'end'); the event only needs a listener.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}
