import { openClient, type ListenSource } from './connection.js';
import { parseNotification } from './names.js';
import type { PgClientLike, PgNotification } from './types.js';

/** What the listener is told by, and tells, its driver. */
export interface ListenerHooks {
  /**
   * A release of `key` was notified (or may have been missed): its next waiter tries again
   * (`next`: the waiter a fair lock's server named first in line).
   */
  released(key: string, next?: string): void;
  /** The longest pause between reconnect attempts (the engine's `maxRetryDelay`). */
  maxRetryDelay(): number;
}

interface Connection {
  readonly client: PgClientLike;
  readonly owned: boolean;
  /** Removes the handlers this listener added to the client. */
  readonly detach: () => void;
}

/**
 * The release feed over LISTEN/NOTIFY: one dedicated connection per lock instance, opened when a
 * first waiter has to sleep, listening on the lock's channel while any key is watched (UNLISTEN
 * when none is). A notification carries the released key (and, from a fair lock, the token of
 * the waiter first in line); only watched keys wake a waiter.
 *
 * LISTEN is session state: this connection must reach the server directly or through a
 * session-pooling proxy (the statements' pool may use transaction pooling). When it breaks, it
 * is opened again with backoff; every watched key is then woken once, since releases notified
 * while it was down are lost. While it is not listening, {@link live} is false and the driver
 * caps its waiters' sleep.
 */
export class ReleaseListener {
  readonly #source: ListenSource;
  readonly #channel: string;
  readonly #timeoutMs: number;
  readonly #hooks: ListenerHooks;
  readonly #watched = new Set<string>();
  #connection: Connection | undefined;
  #listening = false;
  #chain: Promise<void> = Promise.resolve();
  #lastError: unknown;
  #retryDelay = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(source: ListenSource, channel: string, timeoutMs: number, hooks: ListenerHooks) {
    this.#source = source;
    this.#channel = channel;
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
  }

  /** Whether notifications arrive now: connected and listening. */
  get live(): boolean {
    return this.#listening && this.#connection !== undefined;
  }

  /** Number of watched keys. */
  get size(): number {
    return this.#watched.size;
  }

  /** Watches `key`; resolves once the connection listens, rejects with the reason it does not. */
  async watch(key: string): Promise<void> {
    if (this.#closed) throw new Error('the release listener is closed');
    this.#watched.add(key);
    await this.#reconcile();
    if (this.live) return;
    // Not watched after all: the engine backs off and watches again later.
    this.#watched.delete(key);
    throw this.#lastError instanceof Error ? this.#lastError : new Error('LISTEN did not take effect');
  }

  /** Stops watching `key` (UNLISTEN once no key is watched). Never throws. */
  unwatch(key: string): void {
    this.#watched.delete(key);
    if (this.#watched.size === 0) void this.#reconcile();
  }

  /** Closes an owned connection, or takes this listener's handlers off a borrowed client (UNLISTEN first). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watched.clear();
    clearTimeout(this.#retryTimer);
    await this.#chain;
    const connection = this.#connection;
    this.#connection = undefined;
    this.#listening = false;
    if (connection === undefined) return;
    connection.detach();
    if (connection.owned) {
      await (connection.client as PgClientLike & { end(): Promise<void> }).end().catch(() => undefined);
    } else {
      await connection.client.query({ text: `UNLISTEN "${this.#channel}"`, query_timeout: this.#timeoutMs }).catch(() => undefined);
    }
  }

  /** Brings the connection to the wanted state (listening iff a key is watched), one step at a time. */
  #reconcile(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#step()).catch((error: unknown) => {
      this.#lastError = error;
    });
    return this.#chain;
  }

  async #step(): Promise<void> {
    const wanted = this.#watched.size > 0 && !this.#closed;
    if (wanted === this.#listening) return;
    if (wanted) {
      const connection = this.#connection ?? (await this.#open());
      await connection.client.query({ text: `LISTEN "${this.#channel}"`, query_timeout: this.#timeoutMs });
      this.#listening = true;
      this.#retryDelay = 0;
      return;
    }
    const connection = this.#connection;
    this.#listening = false;
    if (connection !== undefined) await connection.client.query({ text: `UNLISTEN "${this.#channel}"`, query_timeout: this.#timeoutMs });
  }

  async #open(): Promise<Connection> {
    const source = this.#source;
    const client = source.kind === 'borrow' ? source.client : await openClient(source.config, this.#timeoutMs);
    const onNotification = (message: PgNotification): void => {
      if (message.channel !== this.#channel || message.payload === undefined) return;
      const { key, next } = parseNotification(message.payload);
      if (this.#watched.has(key)) this.#hooks.released(key, next);
    };
    const onEnd = (): void => this.#lost(connection);
    const onError = (): void => this.#lost(connection);
    client.on('notification', onNotification);
    client.on('end', onEnd);
    client.on('error', onError);
    const connection: Connection = {
      client,
      owned: source.kind === 'open',
      detach: () => {
        client.removeListener('notification', onNotification);
        client.removeListener('end', onEnd);
        client.removeListener('error', onError);
      },
    };
    if (this.#closed) {
      connection.detach();
      if (connection.owned) await (client as PgClientLike & { end(): Promise<void> }).end().catch(() => undefined);
      throw new Error('the release listener is closed');
    }
    this.#connection = connection;
    return connection;
  }

  /** The connection broke: forget it, and open a new one (with backoff) while keys are watched. */
  #lost(connection: Connection): void {
    if (this.#connection !== connection) return;
    connection.detach();
    if (connection.owned) (connection.client as PgClientLike & { end(): Promise<void> }).end().catch(() => undefined);
    this.#connection = undefined;
    this.#listening = false;
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#watched.size === 0 || this.#retryTimer !== undefined) return;
    this.#retryDelay = Math.min(Math.max(this.#retryDelay * 2, 100), Math.max(this.#hooks.maxRetryDelay(), 100));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#reconcile().then(() => {
        if (this.live) {
          // Releases notified while the connection was down are lost: each watched key's
          // next waiter checks again.
          for (const key of this.#watched) this.#hooks.released(key);
        } else {
          this.#scheduleReconnect();
        }
      });
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }
}
