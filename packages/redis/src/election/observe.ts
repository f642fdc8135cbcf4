import type { LeaderInfo } from '@dlock/core';
import type { ElectionChannels } from './channels.js';
import { parseChange, type LeaderReply } from './scripts.js';

/** What one observation needs of the driver. */
export interface ObservationSource {
  readonly channels: ElectionChannels;
  readonly channel: string;
  /** Reads the leader and the counter (`leader.lua`). */
  read(): Promise<LeaderReply>;
}

/** Read again this long after the leader's lease should have ended, in ms (timers may fire early). */
const EXPIRY_MARGIN_MS = 5;

/**
 * Follows one election until `signal` aborts: subscribes to its channel, then reads the state,
 * and emits every change. Changes carry the counter's value (a version); a read or message older
 * than what was emitted is dropped, so a read and a message crossing each other never report an
 * old state after a newer one. The end of a lease publishes nothing: while a leader is known,
 * the state is read again when its lease would end (and then at the new end, if renewed).
 * Rejects when a read fails (the engine starts the observation again).
 */
export async function observeElection(source: ObservationSource, emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void> {
  let version = -1n;
  let leading = false;
  let timer: NodeJS.Timeout | undefined;
  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);

  const expireAt = (pttl: number) => {
    clearTimeout(timer);
    timer = undefined;
    if (pttl >= 0 && !signal.aborted) timer = setTimeout(read, pttl + EXPIRY_MARGIN_MS);
  };
  const apply = (next: bigint, leader: { term: bigint; value: string; pttl: number } | null, fromRead: boolean) => {
    if (next < version) return;
    // Same version: nothing changed, unless a read finds the leader's lease over.
    if (next === version && !(fromRead && leader === null && leading)) {
      if (fromRead && leader !== null) expireAt(leader.pttl);
      return;
    }
    version = next;
    leading = leader !== null;
    emit(leader === null ? null : { value: leader.value, term: leader.term });
    expireAt(leader === null ? -1 : leader.pttl);
  };
  function read(): void {
    if (signal.aborted) return;
    source.read().then((r) => {
      if (!signal.aborted) apply(r.version, r.leader, true);
    }, fail);
  }

  const stop = await source.channels.listen(source.channel, (message) => {
    const change = parseChange(message);
    if (change === undefined) read();
    else apply(change.version, change.leader, false);
  });
  try {
    const first = await source.read();
    apply(first.version, first.leader, true);
    await Promise.race([
      failed,
      new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    stop();
  }
}
