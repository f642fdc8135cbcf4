import { ReleaseSubscriber } from '../release-subscriber.js';
import type { RedisSubscriberLike } from '../types.js';

type Listener = (message: string) => void;

/**
 * The election's one pub/sub connection, shared by every listener of a channel: the engine's
 * release feed (candidates waiting) and each observer. A channel is subscribed while it has a
 * listener. After a reconnect every listener gets an empty message: changes published during
 * the gap are gone, so each one reads the state again.
 */
export class ElectionChannels {
  readonly #subscriber: ReleaseSubscriber;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #subscribing = new Map<string, Promise<void>>();

  constructor(open: () => RedisSubscriberLike, timeoutMs: number, beforeWake: () => Promise<void>) {
    this.#subscriber = new ReleaseSubscriber(
      open,
      (channel, message) => {
        for (const listener of [...(this.#listeners.get(channel) ?? [])]) listener(message);
      },
      timeoutMs,
      beforeWake,
    );
  }

  /** Whether messages are being received now (see `ReleaseSubscriber.live`). */
  get live(): boolean {
    return this.#subscriber.live;
  }

  /** Calls `listener` with every message on `channel` once subscribed; resolves to the unsubscribe function. */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    let set = this.#listeners.get(channel);
    if (set === undefined) this.#listeners.set(channel, (set = new Set()));
    set.add(listener);
    let subscribing = this.#subscribing.get(channel);
    if (subscribing === undefined) {
      subscribing = this.#subscriber.watch(channel, channel);
      this.#subscribing.set(channel, subscribing);
      subscribing.catch(() => {
        if (this.#subscribing.get(channel) === subscribing) this.#subscribing.delete(channel);
      });
    }
    const stop = () => {
      if (!set.delete(listener) || set.size > 0) return;
      this.#listeners.delete(channel);
      this.#subscribing.delete(channel);
      this.#subscriber.unwatch(channel);
    };
    try {
      await subscribing;
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  close(): void {
    this.#listeners.clear();
    this.#subscribing.clear();
    this.#subscriber.close();
  }
}
