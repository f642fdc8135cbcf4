import type { ServerProcess } from './types.js';

/** A PostgreSQL server started by {@link startPostgres}. */
export interface PostgresServer extends ServerProcess {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication: no password). */
  readonly url: string;
  /** The superuser the URL connects as: `postgres`. */
  readonly user: string;
  /** The database the URL names: `postgres`. */
  readonly database: string;
}

/** Options for {@link startPostgres}. */
export interface PostgresOptions {
  /** Extra `postgres` arguments, appended after the harness's own (e.g. `['-c', 'max_connections=50']`). */
  args?: string[];
}
