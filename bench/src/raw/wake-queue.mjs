// Wake-one waiting inside one process, for the raw pub/sub prototypes: a release message for a
// key wakes the longest-waiting local waiter of that key, and only that one. A message that
// arrives while nobody waits (the waiter is between its failed attempt and its sleep) is kept,
// so that waiter retries at once instead of sleeping through it.

export class WakeQueue {
  /** key -> { waiters: Array<() => void>, pending: boolean } */
  #keys = new Map();

  /** Sleeps until woken for `key` or `fallbackMs` pass (a safety net against a lost message). */
  wait(key, fallbackMs) {
    let entry = this.#keys.get(key);
    if (entry === undefined) this.#keys.set(key, (entry = { waiters: [], pending: false }));
    if (entry.pending) {
      entry.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = entry.waiters.indexOf(wake);
        if (i >= 0) entry.waiters.splice(i, 1);
        resolve();
      }, fallbackMs);
      entry.waiters.push(wake);
    });
  }

  /** A release of `key` was announced: wake one waiter (or remember it for the next). */
  wake(key) {
    const entry = this.#keys.get(key);
    if (entry === undefined) return;
    const next = entry.waiters.shift();
    if (next) next();
    else entry.pending = true;
  }
}
