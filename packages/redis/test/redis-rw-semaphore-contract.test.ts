import { startRedis, type RedisServer } from '@dlock/testkit';
import { rwLockContractSuite, semaphoreContractSuite } from '@dlock/testkit/contract';
import { afterAll, beforeAll } from 'vitest';
import { RedisReadWriteLock, RedisSemaphore } from '../src/index.js';

// The read-write lock and semaphore contracts against one real redis-server; each instance
// creates (and closes) its own client, like a separate process would.
let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

// wakeupBudgetMs: below the ~1 s a waiter sleeping through a missed release would take, with
// room for a loaded machine.
rwLockContractSuite('RedisReadWriteLock (standalone)', () => new RedisReadWriteLock({ host: server.host, port: server.port }), {
  wakeupBudgetMs: 600,
});
semaphoreContractSuite('RedisSemaphore (standalone)', () => new RedisSemaphore({ host: server.host, port: server.port }), {
  wakeupBudgetMs: 600,
});
