/**
 * How long a server keeps a waiting caller's place beyond the retry delay it last answered, in
 * ms, for a driver with a wait list (`DriverFeatures.waitList`). The engine attempts again within
 * `max(retryAfter, 0) + max(maxRetryDelay, 100)` ms of an answer unless its process stalls; a
 * place lasts 2 s beyond that, so a live caller keeps it through a GC pause or a slow network
 * (ten times a long one), and a caller that died stops holding up the callers behind it soon
 * after (a killed process's waiters free the line at most `maxRetryDelay` + 2 s after the lease
 * they were told to wait for).
 */
export function waitListPlaceMs(maxRetryDelay: number): number {
  return Math.max(maxRetryDelay, 100) + PLACE_SLACK_MS;
}

/** What a place outlives the engine's longest retry delay by. */
const PLACE_SLACK_MS = 2_000;
