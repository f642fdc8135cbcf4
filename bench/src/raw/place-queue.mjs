// Wake-the-head waiting inside one process, for a raw loop over a protocol with a server-side
// FIFO (the semaphore scripts): a waiter joins the key's local queue before its first attempt
// and keeps its place across retries, so the local order is the order of its places on the
// server. A release message is owed to the first waiter of the key that no release was owed to
// since its last attempt began (one release frees one permit, for the first waiter the earlier
// releases did not already go to): it is woken, or, mid-attempt, retries at once instead of
// sleeping (its attempt may have been judged before the release).

export class PlaceQueue {
  /** key -> Array<entry>, in order of joining */
  #keys = new Map();

  /** Joins `key`'s queue; leave() when done (admitted or given up). */
  join(key) {
    let list = this.#keys.get(key);
    if (list === undefined) this.#keys.set(key, (list = []));
    const entry = { key, wake: undefined, missed: false, owed: false };
    list.push(entry);
    return entry;
  }

  leave(entry) {
    const list = this.#keys.get(entry.key);
    const i = list?.indexOf(entry) ?? -1;
    if (i >= 0) list.splice(i, 1);
    if (list?.length === 0) this.#keys.delete(entry.key);
  }

  /** The entry's attempt begins: releases from now on may be owed to it again. */
  attempting(entry) {
    entry.owed = false;
  }

  /** Sleeps until woken or `fallbackMs` pass (a safety net against a lost message). */
  sleep(entry, fallbackMs) {
    if (entry.missed) {
      entry.missed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        entry.wake = undefined;
        resolve();
      }, fallbackMs);
      entry.wake = () => {
        clearTimeout(timer);
        entry.wake = undefined;
        resolve();
      };
    });
  }

  /** A permit of `key` was freed: wake the first waiter it is owed to (or have it retry once it sleeps). */
  wake(key) {
    const entry = this.#keys.get(key)?.find((e) => !e.owed);
    if (entry === undefined) return;
    entry.owed = true;
    if (entry.wake) entry.wake();
    else entry.missed = true;
  }
}
