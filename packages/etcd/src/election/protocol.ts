import type { IKeyValue } from 'etcd3';
import type { EtcdClient } from '../client.js';
import type { KeyEntry } from '../entry.js';
import { isQueueEntry } from '../keys.js';
import { createRevisionIs, deleteOp, getOp, headerRevision, putOp, queueOp, rangeKvs } from '../ops.js';

/**
 * The transactions of `EtcdElection`, as etcd's Go `concurrency.Election` sends them. The
 * election's directory is `<prefix><name>/`; each candidate's key is `<directory><lease hex>`
 * with its value as the key's value; the oldest key (lowest create revision) leads. Ownership
 * is the key's create revision, as in Go: only this instance writes keys named after its lease.
 */

/**
 * Go's `Campaign` put: `If(createRevision(key) == 0) Then(put key value lease) Else(get key)`.
 * A key found there is one an earlier campaign of ours left behind (its delete had not gone
 * through yet): it is deleted (guarded by its create revision) and the put sent again, so every
 * campaign gets a new create revision, and so a new term. Sets `entry.rev` and calls `joined`
 * once the put is confirmed.
 */
export async function joinElection(client: EtcdClient, entry: KeyEntry, value: string, joined: () => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const response = await client.kv.txn({
      compare: [createRevisionIs(entry.key, 0n)],
      success: [putOp(entry.key, value, entry.lease.id)],
      failure: [getOp(entry.key, true)],
    });
    if (response.succeeded) {
      entry.rev = headerRevision(response);
      joined();
      return;
    }
    const left = rangeKvs(response, 0)[0];
    if (left === undefined) continue; // deleted in between: put again
    if (attempt >= 3) throw new Error(`etcd key ${entry.key.toString('utf8')} is taken by another campaign of this instance's lease`);
    await client.kv.txn({ compare: [createRevisionIs(entry.key, BigInt(left.create_revision))], success: [deleteOp(entry.key)] });
  }
}

/** Go's `Proclaim`: `If(createRevision(key) == rev) Then(put key value lease)`; whether it was still ours. */
export async function proclaimValue(client: EtcdClient, entry: KeyEntry, value: string): Promise<boolean> {
  const response = await client.kv.txn({
    compare: [createRevisionIs(entry.key, entry.rev)],
    success: [putOp(entry.key, value, entry.lease.id)],
  });
  return response.succeeded;
}

/** Go's `Resign`: `If(createRevision(key) == rev) Then(delete key) Else(get key)`; `deleted` or whether the key still exists. */
export async function deleteCandidate(client: EtcdClient, entry: KeyEntry): Promise<{ deleted: boolean; exists: boolean }> {
  // rev 0: the put's answer never came; the key is named after our lease, so it can only be ours.
  const compare = entry.rev === 0n ? [] : [createRevisionIs(entry.key, entry.rev)];
  const response = await client.kv.txn({ compare, success: [deleteOp(entry.key)], failure: [getOp(entry.key, true)] });
  return { deleted: response.succeeded, exists: !response.succeeded && rangeKvs(response, 0).length > 0 };
}

/** Every candidate of the election `dir` (its leader first), and the store revision of the read. */
export async function readCandidates(client: EtcdClient, dir: Buffer): Promise<{ candidates: IKeyValue[]; revision: bigint }> {
  const response = await client.kv.range(queueOp(dir).request_range!);
  return { candidates: response.kvs.filter((kv) => isQueueEntry(dir, kv.key)), revision: headerRevision(response) };
}
