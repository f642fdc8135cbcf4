/**
 * How long a server keeps a waiting caller's place beyond the retry delay it last answered, in
 * ms, for a driver with a wait list (`DriverFeatures.waitList`). The engine attempts again within
 * `max(retryAfter, 0) + max(maxRetryDelay, 100)` ms of an answer unless its process stalls; a
 * place lasts a few seconds beyond that, so a live caller keeps it through a GC pause or a slow
 * network, and a caller that died stops holding up the callers behind it soon after.
 */
export function waitListPlaceMs(maxRetryDelay: number): number {
  return Math.max(maxRetryDelay, 100) + PLACE_SLACK_MS;
}

/** What a place outlives the engine's longest retry delay by. */
const PLACE_SLACK_MS = 5_000;
