import { startEtcd, type EtcdServer } from '@dlock/testkit';
import { rwLockContractSuite, semaphoreContractSuite } from '@dlock/testkit/contract';
import { afterAll, beforeAll } from 'vitest';
import { EtcdReadWriteLock, EtcdSemaphore } from '../src/index.js';
import { testPrefix } from './helpers.js';

// The read-write lock and semaphore contracts against one real etcd; each instance creates (and
// closes) its own client, like a separate process would.
let server: EtcdServer;
beforeAll(async () => {
  server = await startEtcd();
});
afterAll(async () => {
  await server?.stop();
});

const prefix = testPrefix();
rwLockContractSuite('EtcdReadWriteLock', () => new EtcdReadWriteLock({ hosts: server.endpoint }, { prefix: `${prefix}rw/` }));
semaphoreContractSuite('EtcdSemaphore', () => new EtcdSemaphore({ hosts: server.endpoint }, { prefix: `${prefix}sem/` }));
