import { randomUUID } from 'node:crypto';
import { startEtcd, type EtcdServer } from '@dlock/testkit';
import { afterAll, beforeAll } from 'vitest';
import { lockContractSuite } from '@dlock/testkit/contract';
import { EtcdLock, EtcdMutex } from '../src/index.js';

let server: EtcdServer;
beforeAll(async () => {
  server = await startEtcd();
});
afterAll(async () => {
  await server?.stop();
});

// Each instance creates (and on close() closes) its own client: like separate processes.
const prefix = `dlock-test/${randomUUID()}/`;
lockContractSuite('EtcdMutex', () => new EtcdMutex({ hosts: server.endpoint }, { prefix: `${prefix}mutex/` }), {
  fifo: true,
});
lockContractSuite('EtcdLock', () => new EtcdLock({ hosts: server.endpoint }, { prefix: `${prefix}lock/` }));
