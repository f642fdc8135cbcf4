import type { IKeyValue } from 'etcd3';
import type { EtcdClient } from './client.js';
import type { KeyEntry } from './entry.js';
import { isQueueEntry } from './keys.js';
import { getOp, headerRevision, noKeyUnder, putOp, queueOp, rangeKvs } from './ops.js';

/**
 * The transactions of `EtcdMutex`'s queue, as etcd's Go `concurrency.Mutex` sends them: join
 * the queue, look at the entry just ahead, read the head. `queuePrefix` is the queue directory
 * `<prefix><name>/`.
 */

/**
 * Go's `tryAcquire`, with the same result for Go's contenders, in one txn: `If(no key under the
 * queue directory) Then(put myKey) Else(put myKey, get myKey, get oldest)`. An empty queue
 * means our key is the oldest once put, so the usual, uncontended case sends and reads no range
 * (Go's `If(createRevision(myKey) == 0) Then(put myKey, get oldest)` reads the queue every time,
 * a measurable part of an uncontended lock). Idempotent: a retry after a lost answer finds the
 * key its first attempt put, takes the Else branch, and reads the key's create revision. Sets
 * `entry.rev` and calls `joined` as soon as the put is confirmed; resolves to whether our key
 * is the oldest entry of the queue (we hold the lock).
 *
 * The Else branch's put also covers a key an earlier lock of ours left behind (its delete
 * failed; only this instance writes keys named after its lease) with our token: a put keeps the
 * create revision, and the key's value is what release and renew check ownership by. Go ignores
 * values and waits only for deletions, so this changes nothing for it.
 */
export async function joinQueue(client: EtcdClient, queuePrefix: Buffer, entry: KeyEntry, joined: () => void): Promise<boolean> {
  const put = putOp(entry.key, entry.token, entry.lease.id);
  const response = await client.kv.txn({
    compare: [noKeyUnder(queuePrefix)],
    success: [put],
    failure: [put, getOp(entry.key, true), queueOp(queuePrefix, { limit: 1, keysOnly: true })],
  });
  if (response.succeeded) {
    entry.rev = headerRevision(response);
    joined();
    return true;
  }
  entry.rev = BigInt(rangeKvs(response, 1)[0]!.create_revision);
  joined();
  const oldest = await firstEntry(client, queuePrefix, rangeKvs(response, 2)[0], queueOp(queuePrefix, { keysOnly: true }));
  return oldest === undefined || BigInt(oldest.create_revision) === entry.rev;
}

/** What {@link checkQueue} found. */
export interface QueueCheck {
  /** Our key still exists with our create revision. */
  readonly mine: boolean;
  /** The entry just ahead of ours (newest create revision below ours), if any. */
  readonly ahead: Buffer | undefined;
  /** The store revision of the read. */
  readonly revision: bigint;
}

/** One read-only txn: does our key still exist, and which entry is just ahead of us? */
export async function checkQueue(client: EtcdClient, queuePrefix: Buffer, entry: KeyEntry): Promise<QueueCheck> {
  const ahead = { maxCreateRevision: entry.rev - 1n, keysOnly: true };
  const response = await client.kv.txn({
    success: [getOp(entry.key, true), queueOp(queuePrefix, { ...ahead, limit: 1 })],
  });
  const mine = rangeKvs(response, 0)[0]?.create_revision === entry.rev.toString();
  const kv = await firstEntry(client, queuePrefix, rangeKvs(response, 1)[0], queueOp(queuePrefix, ahead));
  return { mine, ahead: kv?.key, revision: headerRevision(response) };
}

/** The queue's oldest entry (the holder), with its value. */
export async function queueHead(client: EtcdClient, queuePrefix: Buffer): Promise<IKeyValue | undefined> {
  const response = await client.kv.range(queueOp(queuePrefix, { limit: 1 }).request_range!);
  return firstEntry(client, queuePrefix, response.kvs[0], queueOp(queuePrefix));
}

/**
 * `first` if it is an entry of this queue; if it belongs to a nested name (`<key>/sub/...`),
 * the first entry of the full listing `all` instead (rare: only names that extend each other).
 */
async function firstEntry(
  client: EtcdClient,
  queuePrefix: Buffer,
  first: IKeyValue | undefined,
  all: ReturnType<typeof queueOp>,
): Promise<IKeyValue | undefined> {
  if (first === undefined || isQueueEntry(queuePrefix, first.key)) return first;
  const response = await client.kv.range(all.request_range!);
  return response.kvs.find((kv) => isQueueEntry(queuePrefix, kv.key));
}
