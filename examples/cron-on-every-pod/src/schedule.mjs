// The schedule: periods of a fixed length aligned to the wall clock (as cron's minutes are), so
// every pod, and every leader after a take-over, agrees on which run is due.

/** The number of the period that `at` (ms since the epoch) falls in. */
export function periodOf(at, periodMs) {
  return Math.floor(at / periodMs);
}

/** Resolves when `period` has begun (at once if it has), or as soon as `signal` aborts. */
export function untilPeriod(period, periodMs, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    // +1 ms: land inside the period, never on the last millisecond of the one before.
    const timer = setTimeout(done, Math.max(0, period * periodMs - Date.now() + 1));
    signal.addEventListener('abort', done, { once: true });
  });
}
