import { lockContractSuite } from '@dlock/testkit/contract';
import { startRedisNodes, type RedisServer, type ServerGroup } from '@dlock/testkit';
import { afterAll, beforeAll } from 'vitest';
import { Redlock } from '../src/index.js';

// The shared contract, against 5 real, independent redis-server processes.
let nodes: ServerGroup<RedisServer>;
beforeAll(async () => {
  nodes = await startRedisNodes(5);
});
afterAll(async () => {
  await nodes?.stop();
});

lockContractSuite('Redlock (5 nodes)', () => new Redlock(nodes.map((n) => n.url)), {
  fifo: false,
  // Far below the ~60 s a waiter not woken by the announcement sleeps; room for a loaded machine.
  wakeupBudgetMs: 500,
  // Every node behind its own proxy: the outage takes all five away at once.
  outage: {
    servers: () => nodes.map((n) => n),
    factory: (ports, options) => new Redlock(ports.map((port) => `redis://127.0.0.1:${port}`), options),
    callTimeoutMs: 1_000,
  },
});
