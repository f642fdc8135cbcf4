import type { LeaderInfo } from '@dlock/core';
import type { IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { EtcdClient } from '../client.js';
import { isQueueEntry } from '../keys.js';
import { readCandidates } from './protocol.js';

interface Candidate {
  readonly term: bigint;
  readonly value: string;
}

/** The leader among `candidates`: the oldest key. */
function leaderOf(candidates: Map<string, Candidate>): LeaderInfo | null {
  let leader: Candidate | null = null;
  for (const c of candidates.values()) if (leader === null || c.term < leader.term) leader = c;
  return leader === null ? null : { value: leader.value, term: leader.term };
}

/**
 * Follows the election `dir` until `signal` aborts: reads every candidate, then watches the
 * directory from the next revision and applies each revision's events in order, emitting the
 * leader after each (a new leader, a new value, or none). Unlike Go's `Observe`, which watches
 * only the leader's key and re-reads when it goes, this sees every change, a leader that led
 * only between two reads included. Rejects when the watch is cancelled or reconnects (events
 * may have been missed): the engine then starts it again, from a new read.
 */
export async function observeElection(client: EtcdClient, dir: Buffer, emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void> {
  const { candidates: read, revision } = await readCandidates(client, dir);
  const candidates = new Map<string, Candidate>();
  const put = (kv: IKeyValue) => candidates.set(kv.key.toString('latin1'), { term: BigInt(kv.create_revision), value: kv.value.toString('utf8') });
  read.forEach(put);
  emit(leaderOf(candidates));
  if (signal.aborted) return;

  let watcher: Watcher | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const stop = () => resolve();
      signal.addEventListener('abort', stop, { once: true });
      const builder = client.watch().prefix(dir).startRevision((revision + 1n).toString());
      watcher = builder.watcher();
      let disconnected = false;
      watcher.on('data', (response: IWatchResponse) => {
        let at: string | undefined;
        for (const event of response.events) {
          if (at !== undefined && event.kv.mod_revision !== at) emit(leaderOf(candidates));
          at = event.kv.mod_revision;
          if (!isQueueEntry(dir, event.kv.key)) continue;
          if (event.type === 'Put') put(event.kv);
          else candidates.delete(event.kv.key.toString('latin1'));
        }
        if (at !== undefined) emit(leaderOf(candidates));
      });
      watcher.on('disconnected', () => (disconnected = true));
      watcher.on('connected', () => {
        if (disconnected) reject(new Error('the etcd watch reconnected: changes may have been missed'));
      });
      watcher.on('error', (error: Error) => reject(error));
    });
  } finally {
    try {
      watcher?.cancel().catch(() => undefined);
    } catch {
      // The watch stream is gone; so is the watcher.
    }
  }
}
