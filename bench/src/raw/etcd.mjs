// The raw etcd protocol with one shared lease per process (granted once, kept alive by etcd3),
// the physical limit for the etcd rows.
//   raw-etcd:       txn If(createRevision(key) == 0) Then(put key lease); release = delete.
//                   Waits by polling every 5 ms (only used uncontended).
//   raw-etcd-queue: the revision queue of etcd's Go concurrency.Mutex, without any of dlock's
//                   bookkeeping: put <key>/<lease>-<n> and read the queue head in one txn; if
//                   not first, watch the key just ahead for its deletion, re-check; release =
//                   delete. A release wakes exactly one waiter.
import { randomUUID } from 'node:crypto';
import { CompareResult, CompareTarget, Etcd3, SortOrder, SortTarget } from 'etcd3';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function prefixEnd(prefix) {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

async function sharedLease(client) {
  const lease = client.lease(30);
  lease.on('lost', () => undefined);
  const id = await lease.grant();
  return { lease, id };
}

const absent = (key) => ({ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' });

export async function rawEtcd({ env }) {
  const client = new Etcd3({ hosts: env.etcdEndpoint });
  const { lease, id } = await sharedLease(client);
  return {
    async acquire(name, _ttl) {
      const key = Buffer.from(name);
      const value = Buffer.from(randomUUID());
      for (;;) {
        const res = await client.kv.txn({ compare: [absent(key)], success: [{ request_put: { key, value, lease: id } }] });
        if (res.succeeded) return () => client.kv.deleteRange({ key });
        await sleep(5);
      }
    },
    async close() {
      await lease.revoke().catch(() => undefined);
      client.close();
    },
  };
}

export async function rawEtcdQueue({ env }) {
  const client = new Etcd3({ hosts: env.etcdEndpoint });
  const { lease, id } = await sharedLease(client);
  const leaseHex = BigInt(id).toString(16);
  let seq = 0;

  // Resolves when `key` is deleted at or after `fromRevision` (or after a 2 s safety net).
  const deleted = async (key, fromRevision) => {
    let resolve;
    const done = new Promise((r) => (resolve = r));
    const watcher = await client.watch().key(key).startRevision(String(fromRevision)).only('delete').create();
    watcher.on('delete', () => resolve());
    watcher.on('error', () => resolve());
    const timer = setTimeout(resolve, 2_000);
    await done;
    clearTimeout(timer);
    watcher.cancel().catch(() => undefined);
  };

  return {
    async acquire(name, _ttl) {
      const prefix = Buffer.from(`${name}/`);
      const rangeEnd = prefixEnd(prefix);
      const key = Buffer.from(`${name}/${leaseHex}-${seq++}`);
      const head = { request_range: { key: prefix, range_end: rangeEnd, sort_target: SortTarget.Create, sort_order: SortOrder.Ascend, limit: 1 } };
      const res = await client.kv.txn({
        compare: [absent(key)],
        success: [{ request_put: { key, value: Buffer.alloc(0), lease: id } }, head],
      });
      const mine = BigInt(res.header.revision);
      const release = () => client.kv.deleteRange({ key });
      if (res.responses[1].response_range.kvs[0]?.create_revision === mine.toString()) return release;
      for (;;) {
        const ahead = await client.kv.range({
          key: prefix,
          range_end: rangeEnd,
          sort_target: SortTarget.Create,
          sort_order: SortOrder.Descend,
          max_create_revision: (mine - 1n).toString(),
          limit: 1,
          keys_only: true,
        });
        const pred = ahead.kvs[0];
        if (pred === undefined) return release;
        await deleted(pred.key, BigInt(ahead.header.revision) + 1n);
      }
    },
    async close() {
      await lease.revoke().catch(() => undefined);
      client.close();
    },
  };
}
