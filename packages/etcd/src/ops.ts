import { CompareResult, CompareTarget, SortOrder, SortTarget, type ICompare, type IKeyValue, type IRequestOp, type ITxnResponse } from 'etcd3';
import { prefixRangeEnd } from './keys.js';

/** Building blocks of the transactions the locks send, and readers of their answers. */

/** `createRevision(key) == revision` (`0`: the key does not exist). */
export function createRevisionIs(key: Buffer, revision: bigint): ICompare {
  return { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: revision.toString() };
}

/** `value(key) == value`. */
export function valueIs(key: Buffer, value: string): ICompare {
  return { key, target: CompareTarget.Value, result: CompareResult.Equal, value: Buffer.from(value, 'utf8') };
}

/**
 * No key under `prefix` (a range compare: every key in the range must have create revision 0,
 * which an empty range does).
 */
export function noKeyUnder(prefix: Buffer): ICompare {
  return { key: prefix, range_end: prefixRangeEnd(prefix), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' };
}

export function putOp(key: Buffer, value: string, leaseId: string): IRequestOp {
  return { request_put: { key, value: Buffer.from(value, 'utf8'), lease: leaseId } };
}

export function getOp(key: Buffer, keysOnly = false): IRequestOp {
  return { request_range: { key, keys_only: keysOnly } };
}

export function deleteOp(key: Buffer): IRequestOp {
  return { request_delete_range: { key } };
}

/**
 * The entries under `prefix` ordered by create revision: the oldest first (Go's
 * `WithFirstCreate`), or with `maxCreateRevision` the newest at or below it first (Go's
 * `WithLastCreate` + `WithMaxCreateRev`, the waiter's predecessor).
 */
export function queueOp(prefix: Buffer, options: { maxCreateRevision?: bigint; limit?: number; keysOnly?: boolean } = {}): IRequestOp {
  const newestFirst = options.maxCreateRevision !== undefined;
  return {
    request_range: {
      key: prefix,
      range_end: prefixRangeEnd(prefix),
      sort_target: SortTarget.Create,
      sort_order: newestFirst ? SortOrder.Descend : SortOrder.Ascend,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(newestFirst ? { max_create_revision: options.maxCreateRevision!.toString() } : {}),
      ...(options.keysOnly ? { keys_only: true } : {}),
    },
  };
}

/** The key-values of the `index`-th operation of a txn answer (a range). */
export function rangeKvs(response: ITxnResponse, index: number): IKeyValue[] {
  return response.responses[index]?.response_range?.kvs ?? [];
}

/** The store revision the txn was applied at. */
export function headerRevision(response: { header: { revision: string } }): bigint {
  return BigInt(response.header.revision);
}
