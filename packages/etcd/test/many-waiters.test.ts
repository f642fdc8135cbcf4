import { startEtcd, type EtcdServer } from '@dlock/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdMutex } from '../src/index.js';
import { testPrefix } from './helpers.js';

let server: EtcdServer;
beforeAll(async () => {
  server = await startEtcd();
});
afterAll(async () => {
  await server?.stop();
});

describe('EtcdMutex with many waiters in one instance', () => {
  it('serves 30 same-key waiters in order without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const mutex = new EtcdMutex({ hosts: server.endpoint }, { prefix: testPrefix() });
    try {
      const holder = await mutex.lock('k', { ttl: 5_000 });
      const order: number[] = [];
      const waiters = Array.from({ length: 30 }, (_, i) =>
        mutex.lock('k', { ttl: 5_000, waitTimeout: 20_000 }).then(async (h) => {
          order.push(i);
          await h.release();
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
      await holder.release();
      await Promise.all(waiters);
      await new Promise((r) => setImmediate(r));
      expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await mutex.close();
    }
  });
});
