import { monotonicClock } from '../clock.js';
import { Outage } from '../engine/outage.js';
import { abortableDelay } from '../sleep.js';
import type { LeaderInfo } from './types.js';

/** Longest pause between two attempts to observe again after a failure, in ms. */
const MAX_RETRY_DELAY_MS = 1_000;

/** What a {@link LeaderFeed} runs: the driver's observation, and how to judge its failures. */
export interface FeedSource {
  /** Observes until `signal` aborts (see `ElectionDriver.observe`). */
  run(emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void>;
  /** Whether a failure may pass (then the observation starts again after a backoff). */
  isTransient(error: unknown): boolean;
  /** A failure as the iteration reports it (`LockBackendError`). */
  wrap(error: unknown): Error;
}

function same(a: LeaderInfo | null, b: LeaderInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return a.term === b.term && a.value === b.value;
}

/**
 * The async iterable `observe()` returns: each iteration runs its own observation, buffers the
 * changes it reports (dropping repeats of the last state), starts it again after transient
 * failures, and ends when `signal` or `closing` aborts or the loop stops (`break`). A permanent
 * failure ends the iteration with that error.
 */
export class LeaderFeed implements AsyncIterable<LeaderInfo | null> {
  constructor(
    private readonly source: FeedSource,
    private readonly signal: AbortSignal | undefined,
    private readonly closing: AbortSignal,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<LeaderInfo | null> {
    const controller = new AbortController();
    const stop = () => controller.abort();
    const sources = [this.signal, this.closing].filter((s): s is AbortSignal => s !== undefined);
    for (const s of sources) {
      if (s.aborted) controller.abort();
      else s.addEventListener('abort', stop, { once: true });
    }
    const items: Array<LeaderInfo | null> = [];
    let failure: Error | undefined;
    let ended = false;
    let wake: (() => void) | undefined;
    let last: LeaderInfo | null | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const finish = () => {
      ended = true;
      for (const s of sources) s.removeEventListener('abort', stop);
      controller.abort();
      notify();
    };
    controller.signal.addEventListener('abort', finish, { once: true });
    const emit = (leader: LeaderInfo | null) => {
      if (ended || (last !== undefined && same(last, leader))) return;
      last = leader === null ? null : { value: leader.value, term: leader.term };
      items.push(last);
      notify();
    };
    void this.#loop(emit, controller.signal).catch((error: unknown) => {
      failure = error instanceof Error ? error : new Error(String(error));
      finish();
    });
    return {
      next: async () => {
        for (;;) {
          if (items.length > 0) return { value: items.shift()!, done: false };
          if (ended) {
            const error = failure;
            failure = undefined;
            if (error !== undefined) throw error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      return: async () => {
        finish();
        items.length = 0;
        return { value: undefined, done: true };
      },
    };
  }

  async #loop(emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void> {
    const outage = new Outage(monotonicClock, MAX_RETRY_DELAY_MS, Infinity);
    while (!signal.aborted) {
      let failure: Error;
      try {
        await this.source.run((leader) => {
          outage.clear();
          emit(leader);
        }, signal);
        // A driver observes until the signal aborts; one that stopped early is started again.
        failure = new Error('the observation ended early');
      } catch (error) {
        if (signal.aborted) return;
        if (!this.source.isTransient(error)) throw this.source.wrap(error);
        failure = error instanceof Error ? error : new Error(String(error));
      }
      if (signal.aborted) return;
      await abortableDelay(outage.failed(failure)!, signal).catch(() => undefined);
    }
  }
}
