import { SortOrder, SortTarget, type IRequestOp, type Watcher } from 'etcd3';
import type { EtcdClient } from '../client.js';
import type { KeyEntry } from '../entry.js';
import { prefixRangeEnd } from '../keys.js';
import { createRevisionIs, getOp, headerRevision, putOp, rangeKvs, valueIs } from '../ops.js';
import { claimEntries, type ClaimKv } from './claim-codec.js';

/**
 * The transactions of the claim drivers: join a name's directory, look at the keys before ours,
 * mark an admission, and watch the one key (or, for the first waiting permit request, the one
 * directory) whose change may admit us. `directory` is `<prefix><name>/`.
 */

/** Every key of `directory` (values included), oldest first; with `maxCreateRevision` only those at or below it. */
function directoryOp(directory: Buffer, maxCreateRevision?: bigint): IRequestOp {
  return {
    request_range: {
      key: directory,
      range_end: prefixRangeEnd(directory),
      sort_target: SortTarget.Create,
      sort_order: SortOrder.Ascend,
      ...(maxCreateRevision === undefined ? {} : { max_create_revision: maxCreateRevision.toString() }),
    },
  };
}

/**
 * Puts our key if absent (idempotent: a retry after a lost answer finds the key its first
 * attempt put) and reads the directory in the same txn. Sets `entry.rev` and calls `joined` once
 * the put is confirmed; resolves to the keys created before ours.
 */
export async function joinClaims(client: EtcdClient, directory: Buffer, entry: KeyEntry, joined: () => void): Promise<ClaimKv[]> {
  const response = await client.kv.txn({
    compare: [createRevisionIs(entry.key, 0n)],
    success: [putOp(entry.key, entry.token, entry.lease.id), directoryOp(directory)],
    failure: [getOp(entry.key, true), directoryOp(directory)],
  });
  entry.rev = response.succeeded ? headerRevision(response) : BigInt(rangeKvs(response, 0)[0]!.create_revision);
  joined();
  const all = claimEntries(directory, rangeKvs(response, 1));
  return all.filter((e) => e.rev < entry.rev);
}

/** What {@link checkClaims} found. */
export interface ClaimCheck {
  /** Our key still exists with our create revision. */
  readonly mine: boolean;
  /** The keys created before ours, oldest first. */
  readonly before: ClaimKv[];
  /** The store revision of the read. */
  readonly revision: bigint;
}

/** One read-only txn: does our key still exist, and which keys are before it? */
export async function checkClaims(client: EtcdClient, directory: Buffer, entry: KeyEntry): Promise<ClaimCheck> {
  const response = await client.kv.txn({ success: [getOp(entry.key, true), directoryOp(directory, entry.rev - 1n)] });
  const mine = rangeKvs(response, 0)[0]?.create_revision === entry.rev.toString();
  return { mine, before: claimEntries(directory, rangeKvs(response, 1)), revision: headerRevision(response) };
}

/** Every key of `directory`, oldest first. */
export async function readClaims(client: EtcdClient, directory: Buffer): Promise<ClaimKv[]> {
  const response = await client.kv.range(directoryOp(directory).request_range!);
  return claimEntries(directory, response.kvs);
}

/**
 * An admitted permit waiter puts its key again (same value, same lease; the create revision
 * stays): the waiter right behind it, which watches only this key, learns that it is now the
 * first waiting and may fit too. Owner-checked; a key released meanwhile is left alone.
 */
export async function markAdmitted(client: EtcdClient, entry: KeyEntry): Promise<void> {
  await client.kv.txn({
    compare: [createRevisionIs(entry.key, entry.rev), valueIs(entry.key, entry.token)],
    success: [putOp(entry.key, entry.token, entry.lease.id)],
  });
}

/** What a waiter watches: one key (its deletion, and with `puts` its admission mark), or a directory's deletions. */
export type WatchTarget = { readonly key: Buffer; readonly puts: boolean } | { readonly directory: Buffer };

/**
 * Watches `target` from `startRevision` (so a change between our read and the watch's creation is
 * still seen) and calls `wake` once, on the first event, error or reconnect: the waiter then
 * reads again and watches whatever concerns it next. `cancel` stops it.
 */
export function watchOnce(client: EtcdClient, target: WatchTarget, startRevision: bigint, wake: () => void): { cancel(): void } {
  const builder = 'directory' in target ? client.watch().prefix(target.directory) : client.watch().key(target.key);
  if ('directory' in target || !target.puts) builder.only('delete');
  builder.startRevision(startRevision.toString());
  const watcher: Watcher = builder.watcher();
  let done = false;
  let connected = false;
  const fire = () => {
    if (done) return;
    done = true;
    wake();
  };
  watcher.on('delete', fire);
  watcher.on('put', fire);
  watcher.on('error', fire);
  watcher.on('connected', () => {
    if (connected) fire(); // reconnected: events may have been missed
    connected = true;
  });
  return {
    cancel() {
      done = true;
      try {
        watcher.cancel().catch(() => undefined);
      } catch {
        // etcd3 throws synchronously when its watch stream is in an unexpected state.
      }
    },
  };
}
