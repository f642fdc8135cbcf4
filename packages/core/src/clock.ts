/**
 * Time source for validity deadlines. It must be monotonic: a wall-clock jump (NTP, a VM
 * resume) must never make a lock look valid longer than it is. Tests inject their own.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number;
}

/** `performance.now()`: monotonic, sub-millisecond, unaffected by wall-clock changes. */
export const monotonicClock: Clock = Object.freeze({ now: () => performance.now() });
