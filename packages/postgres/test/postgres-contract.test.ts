import { lockContractSuite } from '@dlock/testkit/contract';
import { startPostgres, type PostgresServer } from '@dlock/testkit';
import { afterAll, beforeAll } from 'vitest';
import { PostgresLock } from '../src/index.js';

// The shared contract against one real PostgreSQL server. Each instance creates (and ends) its
// own pool from a connection string, as most applications would.
let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
  const lock = new PostgresLock(server.url);
  await lock.migrate();
  await lock.close();
});
afterAll(async () => {
  await server?.stop();
});

const urlOf = (port: number): string => `postgres://postgres@127.0.0.1:${port}/postgres`;

lockContractSuite('PostgresLock', () => new PostgresLock(server.url), {
  fifo: true,
  fair: 'turns',
  // Below the ~850 ms a waiter polling every maxRetryDelay (LISTEN not live) would take.
  wakeupBudgetMs: 500,
  outage: {
    servers: () => [server],
    factory: ([port], options) => new PostgresLock(urlOf(port ?? 0), { operationTimeout: 1_000, ...options }),
    callTimeoutMs: 1_000,
  },
});

// `fair: false` (waiters race for a released key) keeps every promise of the contract except the
// order across instances.
lockContractSuite('PostgresLock (fair: false)', () => new PostgresLock(server.url, { fair: false }), {
  fifo: true,
  wakeupBudgetMs: 500,
});
