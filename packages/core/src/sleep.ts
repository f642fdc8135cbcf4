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
 */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, timerDelay(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `ms` plus a random share of up to `fraction` of it (never negative): spreads retries apart. */
export function withJitter(ms: number, fraction = 0.1, maxJitterMs = 50): number {
  return ms + Math.random() * Math.min(ms * fraction, maxJitterMs);
}
