import type { ReleaseFeed } from './driver.js';

/**
 * Which keys the engine observes releases of, through the driver's {@link ReleaseFeed}: counted
 * per key over its waiting `lock()` calls. When a key's last waiter leaves, the key stays
 * observed for `lingerMs`: a key with one waiter at a time (a coalesced caller, a job that
 * re-locks) would otherwise pay a subscribe and an unsubscribe per acquisition.
 */
export class ReleaseWatch {
  readonly #watching = new Map<string, number>();
  /** Keys whose last waiter left recently: still observed until the timer fires. */
  readonly #lingering = new Map<string, NodeJS.Timeout>();
  /** Subscriptions on their way (the first waiter of a key awaits it; later ones await it too). */
  readonly #subscribing = new Map<string, Promise<void>>();
  #closed = false;
  #onClose: () => void = () => undefined;
  readonly #closing = new Promise<void>((resolve) => (this.#onClose = resolve));

  constructor(
    private readonly feed: ReleaseFeed | undefined,
    private readonly lingerMs: number,
  ) {}

  /**
   * A waiter starts observing `key`; resolves once releases of it are observed: `true` when
   * that started only now (a release just before may have gone unheard: the waiter checks once
   * more), `false` when releases of `key` were observed already (nothing can have been missed).
   * Without a feed always `true`: the driver reports releases itself, also one that came between
   * the waiter's attempt and its queueing, which only a second look sees.
   */
  async watch(key: string): Promise<boolean> {
    if (this.feed === undefined) return true;
    const n = this.#watching.get(key) ?? 0;
    this.#watching.set(key, n + 1);
    const pending = this.#subscribing.get(key);
    if (pending !== undefined) {
      // Another waiter's subscription is on its way: this one's attempt came before it too.
      await pending.catch(() => undefined);
      return true;
    }
    if (n > 0) return false;
    const lingering = this.#lingering.get(key);
    if (lingering !== undefined) {
      // Still observed since the last waiter: no new subscription round trip.
      clearTimeout(lingering);
      this.#lingering.delete(key);
      return false;
    }
    let subscribing: Promise<void>;
    try {
      subscribing = Promise.resolve(this.feed.watch(key));
    } catch (error) {
      this.unwatch(key, true);
      throw error;
    }
    this.#subscribing.set(key, subscribing);
    try {
      // close() ends the wait: the waiter then finds the engine closed.
      await Promise.race([subscribing, this.#closing]);
      return true;
    } catch (error) {
      this.unwatch(key, true);
      throw error;
    } finally {
      if (this.#subscribing.get(key) === subscribing) this.#subscribing.delete(key);
    }
  }

  /** A waiter stopped observing `key` (`now`: its watch failed, stop at once). */
  unwatch(key: string, now = false): void {
    if (this.feed === undefined) return;
    const n = (this.#watching.get(key) ?? 1) - 1;
    if (n > 0) {
      this.#watching.set(key, n);
      return;
    }
    this.#watching.delete(key);
    if (now || this.#closed) return this.#stop(key);
    const timer = setTimeout(() => {
      this.#lingering.delete(key);
      this.#stop(key);
    }, this.lingerMs);
    timer.unref();
    this.#lingering.set(key, timer);
  }

  /** Stops lingering observations; later unwatches stop at once; subscriptions under way stop being awaited. */
  close(): void {
    this.#closed = true;
    this.#onClose();
    for (const [key, timer] of this.#lingering) {
      clearTimeout(timer);
      this.#stop(key);
    }
    this.#lingering.clear();
  }

  #stop(key: string): void {
    try {
      this.feed?.unwatch(key);
    } catch {
      // Unsubscribing is best effort: a stale subscription costs a message, not correctness.
    }
  }
}
