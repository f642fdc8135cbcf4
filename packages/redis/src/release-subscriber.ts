import { withTimeout } from './timeout.js';
import type { RedisSubscriberLike } from './types.js';

/**
 * One pub/sub connection per `RedisLock`, opened on first use, subscribed to the release
 * channel of every key this instance has waiters on. A message on a channel calls `onRelease`
 * with the key and the message; the lock then wakes its next waiter for that key (one, not all).
 *
 * After a reconnect, ioredis re-subscribes by itself, but messages published during the gap
 * are gone: this subscribes again explicitly (to know when it is done) and then calls
 * `onRelease` for every watched key, so each key's next waiter re-checks instead of sleeping
 * through a release it never heard of.
 */
export class ReleaseSubscriber {
  #connection: RedisSubscriberLike | undefined;
  /** channel -> key */
  readonly #watched = new Map<string, string>();
  #everReady = false;
  #resyncing = false;
  #closed = false;

  constructor(
    private readonly open: () => RedisSubscriberLike,
    private readonly onRelease: (key: string, message: string) => void,
    private readonly timeoutMs: number,
    /** Awaited before waking waiters after a reconnect (the lock waits for its command connection). */
    private readonly beforeWake: () => Promise<void> = async () => {},
  ) {}

  /**
   * Whether release messages are being received right now: connected, and not in the middle
   * of re-subscribing after a reconnect. While not, a waiter must not trust that it will be
   * woken, and should poll instead.
   */
  get live(): boolean {
    return this.#connection?.status === 'ready' && !this.#resyncing;
  }

  /** Subscribes to `channel` for `key`; resolves once the server confirmed the subscription. */
  async watch(channel: string, key: string): Promise<void> {
    if (this.#closed) throw new Error('the release subscriber is closed');
    this.#watched.set(channel, key);
    await withTimeout(this.#connect().subscribe(channel), this.timeoutMs, 'subscribe');
  }

  /** Unsubscribes from `channel` (best effort: a stale subscription costs a message, not correctness). */
  unwatch(channel: string): void {
    this.#watched.delete(channel);
    const connection = this.#connection;
    if (connection === undefined || this.#closed) return;
    connection.unsubscribe(channel).catch(() => undefined);
  }

  /** Number of channels subscribed to. */
  get size(): number {
    return this.#watched.size;
  }

  close(): void {
    this.#closed = true;
    this.#watched.clear();
    this.#connection?.disconnect();
    this.#connection = undefined;
  }

  #connect(): RedisSubscriberLike {
    if (this.#connection !== undefined) return this.#connection;
    const connection = this.open();
    // Connection errors also surface as failed commands; the event only needs a listener.
    connection.on('error', () => undefined);
    connection.on('message', (channel: string, message: string) => {
      const key = this.#watched.get(channel);
      if (key !== undefined) this.onRelease(key, message);
    });
    connection.on('ready', () => {
      if (this.#everReady) void this.#resync(connection);
      this.#everReady = true;
    });
    if (connection.status === 'ready') this.#everReady = true;
    this.#connection = connection;
    return connection;
  }

  async #resync(connection: RedisSubscriberLike): Promise<void> {
    const channels = [...this.#watched.keys()];
    if (channels.length === 0 || this.#closed) return;
    this.#resyncing = true;
    try {
      await withTimeout(connection.subscribe(...channels), this.timeoutMs, 'resubscribe');
    } catch {
      // Not confirmed: the waiters still get woken below, and poll while `live` is false.
    } finally {
      this.#resyncing = false;
    }
    // A woken waiter's attempt goes through the command connection, which may still be
    // reconnecting; an attempt queued behind a failing reconnect would fail the waiter.
    await this.beforeWake().catch(() => undefined);
    if (this.#closed) return;
    for (const channel of channels) {
      const key = this.#watched.get(channel);
      if (key !== undefined) this.onRelease(key, '');
    }
  }
}
