import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcd, waitFor, type EtcdServer } from '@dlock/testkit';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdMutex, etcdClientOptions } from '../src/index.js';
import { etcdctlLock, testPrefix, type EtcdctlLock } from './helpers.js';

// `etcdctl lock <name>` is etcd's Go concurrency.Mutex: these tests show both sides exclude each
// other, in both directions, with the queue order (create revisions) respected.
let server: EtcdServer;
let client: Etcd3;
const prefix = testPrefix();
const children: EtcdctlLock[] = [];
const locks: EtcdMutex[] = [];

beforeAll(async () => {
  server = await startEtcd();
  client = new Etcd3(etcdClientOptions({ hosts: server.endpoint }));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
  await Promise.allSettled(locks.splice(0).map((l) => l.close()));
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

function mutex(): EtcdMutex {
  const lock = new EtcdMutex(client, { prefix });
  locks.push(lock);
  return lock;
}

describe('EtcdMutex and etcdctl lock', () => {
  it('uses the Go layout: <prefix><name>/<lease hex>, the key etcdctl lock queues under', async () => {
    const m = mutex();
    const h = await m.lock('layout', { ttl: 10_000 });
    const keys = await client.getAll().prefix(`${prefix}layout/`).keys();
    expect(keys).toHaveLength(1);
    const hex = keys[0]!.slice(`${prefix}layout/`.length);
    expect(hex).toMatch(/^[0-9a-f]+$/);
    // The lease in the key's name is the lease that carries it, as with Go's Session.
    const kv = (await client.get(keys[0]!).exec()).kvs[0]!;
    expect(BigInt(kv.lease).toString(16)).toBe(hex);
    expect(BigInt(kv.create_revision)).toBe(h.fencingToken);
    expect(m.queuePrefixFor('layout')).toBe(`${prefix}layout/`);
    await h.release();
    expect(await client.getAll().prefix(`${prefix}layout/`).keys()).toHaveLength(0);
  });

  it('while etcdctl lock holds the name, lock() waits; it gets the lock once etcdctl unlocks', async () => {
    const m = mutex();
    const ctl = etcdctlLock(server.endpoint, `${prefix}a`);
    children.push(ctl);
    const ctlKey = await ctl.acquired;
    const ctlRev = BigInt((await client.get(ctlKey).exec()).kvs[0]!.create_revision);

    expect(await m.tryLock('a')).toBeNull();
    const info = await m.inspect('a');
    expect(info?.fencingToken).toBe(ctlRev);
    expect(info?.holder).toBe(''); // Go stores an empty value

    let acquired = false;
    const waiting = m.lock('a', { ttl: 10_000 }).then((h) => {
      acquired = true;
      return h;
    });
    await sleep(500);
    expect(acquired).toBe(false);
    const stoppedAt = performance.now();
    await ctl.stop(); // SIGTERM: etcdctl deletes its key and exits
    const h = await waiting;
    // Woken by the key's delete, not by etcdctl's 60 s session lease running out (the bound
    // includes etcdctl's own shutdown, with room for a loaded machine).
    expect(performance.now() - stoppedAt).toBeLessThan(3_000);
    expect(h.fencingToken).toBeGreaterThan(ctlRev);
    await h.release();
  });

  it('while we hold the name, etcdctl lock waits; it acquires once we release', async () => {
    const m = mutex();
    const h = await m.lock('b', { ttl: 10_000 });
    const ctl = etcdctlLock(server.endpoint, `${prefix}b`);
    children.push(ctl);
    // etcdctl queued behind us (its key exists, with a higher create revision): waited for, as
    // starting etcdctl takes a while on a busy machine. Then it still does not hold the lock.
    await waitFor(async () => (await client.getAll().prefix(`${prefix}b/`).keys()).length === 2, 5_000);
    await sleep(300);
    expect(ctl.holding).toBe(false);
    expect(await client.getAll().prefix(`${prefix}b/`).keys()).toHaveLength(2);
    await h.release();
    const ctlKey = await Promise.race([ctl.acquired, sleep(2_000).then(() => 'timeout')]);
    expect(ctlKey).toMatch(new RegExp(`^${prefix}b/[0-9a-f]+$`));
    // Now etcdctl holds it: we are excluded.
    expect(await m.tryLock('b')).toBeNull();
    expect((await m.inspect('b'))?.fencingToken).toBeGreaterThan(h.fencingToken);
  });

  it('a queue mixing us and etcdctl is served in create-revision order', async () => {
    const first = mutex();
    const second = mutex();
    const h = await first.lock('c', { ttl: 10_000 });
    // With a command, etcdctl runs it while holding the lock (the key in $ETCD_LOCK_KEY), then unlocks.
    const ctl = etcdctlLock(server.endpoint, `${prefix}c`, ['sh', '-c', 'echo "$ETCD_LOCK_KEY"; sleep 0.3']);
    children.push(ctl);
    // etcdctl is queued second (waited for: starting it takes a while on a busy machine).
    await waitFor(async () => (await client.getAll().prefix(`${prefix}c/`).keys()).length === 2, 5_000);
    const order: string[] = [];
    ctl.acquired.then(() => order.push('etcdctl'), () => undefined);
    const ours = second.lock('c', { ttl: 10_000 }).then((x) => {
      order.push('second');
      return x;
    });
    await sleep(200);
    await h.release();
    const h2 = await ours;
    expect(order).toEqual(['etcdctl', 'second']);
    expect(await ctl.exited).toBe(0);
    await h2.release();
  });

  it('names that extend each other (a, a/b) are independent locks for us', async () => {
    const m = mutex();
    const other = mutex();
    const parent = await m.lock('nest', { ttl: 10_000 });
    const child = await other.tryLock('nest/b', { ttl: 10_000 });
    expect(child).not.toBeNull();
    expect(await other.tryLock('nest')).toBeNull();
    await parent.release();
    // The nested name's key lies under `nest/`, but it is not an entry of the `nest` queue.
    const again = await other.tryLock('nest', { ttl: 10_000 });
    expect(again).not.toBeNull();
    expect((await m.inspect('nest'))?.fencingToken).toBe(again!.fencingToken);
    await again!.release();
    await child!.release();
  });
});
