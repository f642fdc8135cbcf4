import { startPostgres, type PostgresServer } from '@dlock/testkit';
import { rwLockContractSuite, semaphoreContractSuite } from '@dlock/testkit/contract';
import { afterAll, beforeAll } from 'vitest';
import { PostgresReadWriteLock, PostgresSemaphore } from '../src/index.js';

// The read-write lock and semaphore contracts against one real PostgreSQL server; each instance
// creates (and ends) its own pool from a connection string, like a separate process would.
let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
  const rw = new PostgresReadWriteLock(server.url);
  await rw.migrate();
  await rw.close();
});
afterAll(async () => {
  await server?.stop();
});

// wakeupBudgetMs: below the ~1 s a waiter polling every maxRetryDelay would take, with room for
// a loaded machine.
rwLockContractSuite('PostgresReadWriteLock', () => new PostgresReadWriteLock(server.url), { wakeupBudgetMs: 600 });
semaphoreContractSuite('PostgresSemaphore', () => new PostgresSemaphore(server.url), { wakeupBudgetMs: 600 });
