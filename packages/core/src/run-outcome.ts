import type { LockLostError } from './errors.js';
import { lossOf } from './handle.js';
import type { LockEvent } from './lock-events.js';
import { LeaseView } from './coalesce/shared-lease.js';
import type { LockHandle } from './types.js';

/** Runs `fn`, capturing its value or error. */
export async function settle<T>(
  fn: (handle: LockHandle) => Promise<T> | T,
  handle: LockHandle,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await fn(handle) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The `LockLostError` of a handle that is no longer held, if it was lost (not released). */
export function lostReason(handle: LockHandle): LockLostError | undefined {
  if (handle instanceof LeaseView) return handle.ended ? handle.lostError : handle.lease.lostError();
  return lossOf(handle);
}

/** The `acquired` event; a lease's token is read without marking it observed (events are not for fencing). */
export function acquiredEvent(handle: LockHandle, backend: string, waitedMs: number): LockEvent {
  if (!(handle instanceof LeaseView)) return { type: 'acquired', key: handle.key, backend, fencingToken: handle.fencingToken, waitedMs };
  const { key, fencingToken } = handle.lease.backend;
  return { type: 'acquired', key, backend, fencingToken, waitedMs, handedOver: handle.handedOver };
}

