import { lockEngineOptionNames, rejectUnknownOptions, type KnownOptions, type LockEngineOptions } from '@dlock/core';
import type { ListenSource, PostgresSource } from '../connection.js';
import { resolveConnectionOptions } from '../connection-options.js';
import { validateIdentifier } from '../names.js';
import { defaultPostgresLockOptions } from '../postgres-lock.js';
import type { PgClientConfig } from '../types.js';
import { CLAIM_SUFFIXES, claimNames, MAX_CLAIM_TABLE, type ClaimNames } from './claim-sql.js';

/**
 * Options of `PostgresReadWriteLock` and `PostgresSemaphore`: those of `PostgresLock` without
 * hand-over (the server's wait list decides who is next).
 */
export interface PostgresClaimOptions extends LockEngineOptions {
  /**
   * The base name of the tables (created by `migrate()`): `<table>_claims` (one row per holder
   * and per waiting caller), `<table>_claim_keys` (one row per key) and the function
   * `<table>_claim_acquire`; fencing tokens come from `<table>_fence`, the sequence a
   * `PostgresLock` with the same `table` uses. Letters, digits and `_`, at most 49 characters.
   * Read-write locks and semaphores of one `table` share their keys (a key is one or the other).
   * @default 'dlock_locks'
   */
  table?: string;
  /**
   * Schema of the tables, function and sequence (it must exist). Letters, digits and `_`.
   * @default the connection's `search_path` (usually `public`)
   */
  schema?: string;
  /**
   * The LISTEN/NOTIFY channel releases, expiries and departures are announced on (payload:
   * the key). Instances that share a table must share it.
   * @default `<table>_claims`
   */
  channel?: string;
  /** Where the one LISTEN connection goes; see `PostgresLockOptions.listen`. */
  listen?: string | PgClientConfig | false;
  /**
   * Longest wait for one statement's answer, in ms; see `PostgresLockOptions.operationTimeout`.
   * @default 2_000
   */
  operationTimeout?: number;
}

/** The validated settings a `PostgresClaimDriver` runs with. */
export interface PostgresClaimSettings {
  readonly source: PostgresSource;
  readonly table: string;
  readonly schema: string | undefined;
  readonly names: ClaimNames;
  readonly operationTimeout: number;
  /** Where LISTEN runs; `undefined`: the default for the source; `false`: no release feed. */
  readonly listen: ListenSource | false | undefined;
}

const names: readonly string[] = Object.freeze(['table', 'schema', 'channel', 'listen', 'operationTimeout']);

/** How the constructor `what` names its own options in messages. */
export function claimKnownOptions(what: string): KnownOptions {
  return Object.freeze({ names, what });
}

/** The `table` option of the claims classes: room for the longest derived name. */
export function validateClaimTable(value: unknown): string {
  return validateIdentifier('table', value, MAX_CLAIM_TABLE);
}

/** The client argument and the options, validated before anything connects (a misspelt name is reported first). */
export function resolveClaimSettings(client: unknown, options: unknown, known: KnownOptions): PostgresClaimSettings {
  rejectUnknownOptions(options, [...lockEngineOptionNames, ...known.names], known.what);
  const { source, table, schema, channel, operationTimeout, listen } = resolveConnectionOptions(client, options as PostgresClaimOptions | undefined, {
    defaults: defaultPostgresLockOptions,
    validateTable: validateClaimTable,
    defaultChannel: (name) => `${name}${CLAIM_SUFFIXES.claims}`,
  });
  return { source, table, schema, names: claimNames(table, schema, channel), operationTimeout, listen };
}
