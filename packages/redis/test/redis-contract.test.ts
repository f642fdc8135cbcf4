import { lockContractSuite } from '@dlock/testkit/contract';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from '@dlock/testkit';
import { RedisLock } from '../src/index.js';

// The shared contract against one real redis-server. Each instance creates (and closes) its
// own client from options, as most applications would.
let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

lockContractSuite('RedisLock (standalone)', () => new RedisLock({ host: server.host, port: server.port }), {
  fifo: true,
  fair: 'turns',
  // Below the ~850 ms a waiter polling every maxRetryDelay (pub/sub not live) would take, with
  // room for a loaded machine.
  wakeupBudgetMs: 500,
  outage: {
    servers: () => [server],
    factory: ([port], options) => new RedisLock({ host: '127.0.0.1', port }, { operationTimeout: 1_000, ...options }),
    callTimeoutMs: 1_000,
  },
});

// `fair: false` (waiters race; a releasing holder hands over to its own next waiter) keeps every
// promise of the contract except the order across instances (its fairness tests fail: one
// instance got 0 of 48 turns in the share test).
lockContractSuite('RedisLock (standalone, fair: false)', () => new RedisLock({ host: server.host, port: server.port }, { fair: false }), {
  fifo: true,
  wakeupBudgetMs: 500,
});
