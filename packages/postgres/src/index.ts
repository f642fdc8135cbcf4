export { PostgresLock, defaultPostgresLockOptions, migrationSql, type PostgresLockOptions } from './postgres-lock.js';
export { PostgresDriver, type PostgresDriverSettings, type PostgresLockData } from './postgres-driver.js';
export { PostgresNotMigratedError, isTransientPostgresError } from './errors.js';
export type { MigrationTarget } from './sql.js';
export type { PostgresSource, ListenSource } from './connection.js';
export type { PgClientConfig, PgClientLike, PgNotification, PgPoolLike, PgQueryable, PgQueryConfig, PgQueryResult } from './types.js';
