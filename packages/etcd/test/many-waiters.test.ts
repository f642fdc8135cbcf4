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

  it('up to maxQueuedPerName callers of ours put their keys in etcd as they come (alone on a name too); further ones wait locally', async () => {
    const prefix = testPrefix();
    const raw = new Etcd3({ hosts: server.endpoint });
    const client = new Etcd3({ hosts: server.endpoint });
    let watches = 0;
    const watch = client.watch.bind(client);
    client.watch = () => {
      watches++;
      return watch();
    };
    // leaseIdleTimeout 60 s: a pause of a loaded machine between the steps below must not let the
    // idle lease be revoked, as a new lease would bring a new marker watch.
    const mutex = new EtcdMutex(client, { prefix, maxQueuedPerName: 3, leaseIdleTimeout: 60_000 });
    const other = new EtcdMutex({ hosts: server.endpoint }, { prefix });
    await (await mutex.lock('warm', { ttl: 5_000 })).release(); // the lease exists...
    await waitFor(() => watches === 1, 5_000); // ...and its marker watch (set up once the marker's put is answered)
    watches = 0;
    try {
      const queued = (name: string) => raw.getAll().prefix(`${prefix}${name}/`).sort('Create', 'Ascend').keys();
      // Alone on a name: the holder and the next two callers have keys in etcd (3 slots, put in
      // the order they came, so that callers of other instances coming later queue behind them);
      // the fourth waits locally for a slot.
      const alone = await mutex.lock('solo', { ttl: 5_000 });
      const soloWaiters = Array.from({ length: 3 }, () => mutex.lock('solo', { ttl: 5_000 }).then((h) => h.release()));
      await new Promise((r) => setTimeout(r, 150));
      expect(await queued('solo')).toHaveLength(3);
      await alone.release();
      await Promise.all(soloWaiters);
      expect(watches).toBe(0);

      // Another instance holds 'k': our callers queue up to 3 keys in etcd behind it.
      const foreign = await other.lock('k', { ttl: 5_000 });
      const order: number[] = [];
      const waiters = Array.from({ length: 5 }, (_, i) =>
        mutex.lock('k', { ttl: 5_000, waitTimeout: 10_000 }).then(async (h) => {
          order.push(i);
          await h.release();
        }),
      );
      await waitFor(async () => (await queued('k')).length === 4, 2_000);
      await new Promise((r) => setTimeout(r, 100)); // and no more than that
      const keys = await queued('k');
      expect(keys).toHaveLength(4);
      const lease = keys[1]!.slice(`${prefix}k/`.length);
      expect(keys.slice(1)).toEqual([`${prefix}k/${lease}`, `${prefix}k/${lease}-1`, `${prefix}k/${lease}-2`]);
      // Only the first of ours watches (the foreign key); the others wait behind keys of ours.
      expect(watches).toBe(1);
      await foreign.release();
      await Promise.all(waiters);
      expect(order).toEqual([0, 1, 2, 3, 4]);
      expect(await queued('k')).toEqual([]);
    } finally {
      await mutex.close();
      await other.close();
      client.close();
      raw.close();
    }
  });
});
