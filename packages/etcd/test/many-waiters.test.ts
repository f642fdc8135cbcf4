import { startEtcd, waitFor, type EtcdServer } from '@dlock/testkit';
import { Etcd3 } from 'etcd3';
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

  it('queues up to maxQueuedPerName keys of one instance in etcd (<lease>, <lease>-1, ...); the rest wait locally', async () => {
    const prefix = testPrefix();
    const raw = new Etcd3({ hosts: server.endpoint });
    const client = new Etcd3({ hosts: server.endpoint });
    let watches = 0;
    const watch = client.watch.bind(client);
    client.watch = () => {
      watches++;
      return watch();
    };
    const mutex = new EtcdMutex(client, { prefix, maxQueuedPerName: 3 });
    await (await mutex.lock('warm', { ttl: 5_000 })).release(); // the lease (and its marker watch) exist
    watches = 0;
    try {
      const holder = await mutex.lock('k', { ttl: 5_000 });
      const order: number[] = [];
      const waiters = Array.from({ length: 5 }, (_, i) =>
        mutex.lock('k', { ttl: 5_000, waitTimeout: 10_000 }).then(async (h) => {
          order.push(i);
          await h.release();
        }),
      );
      const queued = () => raw.getAll().prefix(`${prefix}k/`).sort('Create', 'Ascend').keys();
      await waitFor(async () => (await queued()).length === 3, 2_000);
      await new Promise((r) => setTimeout(r, 100)); // and no more than that
      const keys = await queued();
      expect(keys).toHaveLength(3);
      expect(watches).toBe(0); // each waits behind a key of its own instance: woken locally, not watched
      const lease = keys[0]!.slice(`${prefix}k/`.length);
      expect(keys).toEqual([`${prefix}k/${lease}`, `${prefix}k/${lease}-1`, `${prefix}k/${lease}-2`]);
      await holder.release();
      await Promise.all(waiters);
      expect(order).toEqual([0, 1, 2, 3, 4]);
      expect(await queued()).toEqual([]);
    } finally {
      await mutex.close();
      client.close();
      raw.close();
    }
  });
});
