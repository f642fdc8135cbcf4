// Peer settings by name: 'default' (the library's own defaults) or 'retry:<ms>' (the retry
// interval set to <ms>, the shortest settings the bench sweeps for "best").

export function retryMs(variant) {
  const m = /^retry:(\d+(?:\.\d+)?)$/.exec(variant ?? '');
  return m ? Number(m[1]) : undefined;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Retries `attempt()` while it fails with a "not acquired in time" error of the library
 * (`isContention`), as an application would wrap a lock that gives up; other errors, and any
 * error once `stopped()` (the bench's window is over, or the locker is closing), are thrown.
 */
export async function untilAcquired(attempt, isContention, stopped) {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (stopped() || !isContention(error)) throw error;
    }
  }
}
