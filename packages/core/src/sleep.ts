/**
 * Resolves after `ms`, or rejects with `signal.reason` as soon as `signal` aborts.
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
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `ms` plus a random share of up to `fraction` of it (never negative): spreads retries apart. */
export function withJitter(ms: number, fraction = 0.1, maxJitterMs = 50): number {
  return ms + Math.random() * Math.min(ms * fraction, maxJitterMs);
}
