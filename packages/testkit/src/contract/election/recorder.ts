// Follows an election's observe() in the background, for the observe tests.
import type { Election, LeaderInfo } from '@dlock/core';
import { waitFor } from '../../util.js';

/** What an observer saw, as `value@term` strings (`null` when nobody led). */
export interface Recorder {
  readonly seen: Array<string | null>;
  /** Waits until the observer saw `count` states (throws after `timeoutMs`). */
  until(count: number, timeoutMs: number): Promise<void>;
  /** Stops observing; resolves once the iteration ended. */
  stop(): Promise<void>;
  /** Resolves when the iteration ends by itself (rejects with its error). */
  readonly ended: Promise<void>;
}

export function show(leader: LeaderInfo | null): string | null {
  return leader === null ? null : `${leader.value}@${leader.term}`;
}

export function record(election: Election, name: string): Recorder {
  const controller = new AbortController();
  const seen: Array<string | null> = [];
  const ended = (async () => {
    for await (const leader of election.observe(name, { signal: controller.signal })) seen.push(show(leader));
  })();
  ended.catch(() => undefined);
  return {
    seen,
    until: (count, timeoutMs) =>
      waitFor(() => seen.length >= count, timeoutMs).catch(() => {
        throw new Error(`the observer saw ${JSON.stringify(seen)}, expected at least ${count} states within ${timeoutMs} ms`);
      }),
    stop: async () => {
      controller.abort();
      await ended;
    },
    ended,
  };
}
