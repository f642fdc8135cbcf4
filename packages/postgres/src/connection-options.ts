import { validateTtl } from '@dlock/core';
import { validateListen, validateSource, type ListenSource, type PostgresSource } from './connection.js';
import { validateIdentifier } from './names.js';
import type { PgClientConfig } from './types.js';

/** The options every PostgreSQL class takes besides the engine's (each class documents its own). */
export interface ConnectionOptionValues {
  table?: string;
  schema?: string;
  channel?: string;
  listen?: string | PgClientConfig | false;
  operationTimeout?: number;
}

/** How one class reads {@link ConnectionOptionValues}. */
export interface ConnectionOptionRules {
  readonly defaults: { readonly table: string; readonly operationTimeout: number };
  /** Checks the table name (its length leaves room for the longest name derived from it). */
  readonly validateTable: (value: unknown) => string;
  /** The channel when the option is not given. */
  readonly defaultChannel: (table: string) => string;
}

/** The client argument and the connection options, validated. */
export interface ResolvedConnectionOptions {
  readonly source: PostgresSource;
  readonly table: string;
  readonly schema: string | undefined;
  readonly channel: string;
  readonly operationTimeout: number;
  /** Where LISTEN runs; `undefined`: the default for the source; `false`: no release feed. */
  readonly listen: ListenSource | false | undefined;
}

/**
 * Validates the client argument and the connection options without any I/O, in the order a
 * wrong one is reported: client, table, schema, channel, operation timeout, listen.
 */
export function resolveConnectionOptions(client: unknown, options: ConnectionOptionValues | undefined, rules: ConnectionOptionRules): ResolvedConnectionOptions {
  const source = validateSource(client);
  const o = options ?? {};
  const table = rules.validateTable(o.table ?? rules.defaults.table);
  const schema = o.schema === undefined ? undefined : validateIdentifier('schema', o.schema);
  const channel = o.channel === undefined ? rules.defaultChannel(table) : validateIdentifier('channel', o.channel);
  const operationTimeout = o.operationTimeout === undefined ? rules.defaults.operationTimeout : validateTtl(o.operationTimeout, 'operationTimeout');
  return { source, table, schema, channel, operationTimeout, listen: validateListen(o.listen) };
}
