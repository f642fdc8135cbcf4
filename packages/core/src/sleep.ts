/**
 * Longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days). A longer one overflows and
 * fires after ~1 ms (with a TimeoutOverflowWarning), so every timer in dlock goes through
 * {@link timerDelay}, and a timer that must wait longer re-arms when it fires early.
 */
export const MAX_TIMER_DELAY = 2_147_483_647;

/** `ms` as a delay `setTimeout` honours: at least 0, at most {@link MAX_TIMER_DELAY}. */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY);
}

/**
 * Resolves after `ms` (at most {@link MAX_TIMER_DELAY}), or rejects with `signal.reason` as soon as `signal` aborts.
 * The timer and the listener are removed either way, so nothing leaks.
 *
 * At least `ms` of real time passes: Node starts a timer from the event loop's cached clock,
 * which is stale by however long the current turn has run, so `setTimeout(fn, 1)` after 0.9 ms of
 * work fires ~0.1 ms later. A timer that fires early re-arms for the rest.
 */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const wait = timerDelay(ms);
    const until = performance.now() + wait;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const fire = () => {
      const rest = until - performance.now();
      if (rest > 0) {
        timer = setTimeout(fire, Math.ceil(rest));
        return;
      }
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    let timer = setTimeout(fire, wait);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `ms` plus a random share of up to `fraction` of it (never negative): spreads retries apart. */
export function withJitter(ms: number, fraction = 0.1, maxJitterMs = 50): number {
  return ms + Math.random() * Math.min(ms * fraction, maxJitterMs);
}
