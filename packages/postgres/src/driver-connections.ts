import type { DriverHost, ReleaseFeed } from '@dlock/core';
import { resolveConnection, type ListenSource, type PostgresSource, type ResolvedConnection } from './connection.js';
import { ReleaseListener } from './release-listener.js';

/** What {@link DriverConnections} needs of a driver's validated settings. */
export interface ConnectionSettings {
  readonly operationTimeout: number;
  /** Where LISTEN runs; `undefined`: the default for the source; `false`: no release feed. */
  readonly listen: ListenSource | false | undefined;
  /** The channel releases are notified on. */
  readonly channel: string;
}

interface Attached<D> {
  readonly host: DriverHost<D>;
  readonly connection: ResolvedConnection;
  readonly listener: ReleaseListener | undefined;
}

/**
 * A PostgreSQL driver's two connections: the statements' pool or client, and the one LISTEN
 * connection of the release feed. Both are resolved when an engine attaches the driver, after
 * every option was validated (a constructor that throws never opens a connection), and closed
 * with it. `driver` names the driver in the errors of misuse.
 */
export class DriverConnections<D> {
  readonly #driver: string;
  readonly #source: PostgresSource;
  readonly #settings: ConnectionSettings;
  #attached: Attached<D> | undefined;

  constructor(driver: string, source: PostgresSource, settings: ConnectionSettings) {
    this.#driver = driver;
    this.#source = source;
    this.#settings = settings;
  }

  /** The feature that watches keys through the LISTEN connection; `undefined` with `listen: false`. */
  releaseFeed(): ReleaseFeed | undefined {
    if (this.#settings.listen === false) return undefined;
    return Object.freeze({ watch: (key: string) => this.#listener().watch(key), unwatch: (key: string) => this.#listener().unwatch(key) });
  }

  /** Adopts the caller's pool or client, or creates the pool for a connection string. */
  attach(host: DriverHost<D>): void {
    if (this.#attached !== undefined) throw new Error(`a ${this.#driver} serves one engine`);
    const { operationTimeout, listen, channel } = this.#settings;
    const connection = resolveConnection(this.#source, operationTimeout);
    const listener =
      listen === false
        ? undefined
        : new ReleaseListener(listen ?? connection.listen, channel, operationTimeout, {
            released: (key, next) => host.released(key, next),
            maxRetryDelay: () => host.maxRetryDelay,
          });
    this.#attached = { host, connection, listener };
  }

  /** The engine that attached the driver. */
  get host(): DriverHost<D> {
    return this.#open().host;
  }

  /** The statements' pool or client (the caller's, or the pool created from a connection string). */
  get queryable(): ResolvedConnection['queryable'] {
    return this.#open().connection.queryable;
  }

  /** While notifications may be missed (the LISTEN connection is reconnecting), poll at most every maxRetryDelay. */
  capWhileDeaf(retryAfter: number): number {
    const { listener, host } = this.#open();
    if (listener === undefined || listener.live || retryAfter < 0) return retryAfter;
    return Math.min(retryAfter, host.maxRetryDelay);
  }

  /**
   * A listening instance hears its own notification; otherwise its waiters of `key` (`next`:
   * only the one the server named first in line) are woken here.
   */
  wakeLocally(key: string, next?: string): void {
    const { listener, host } = this.#open();
    if (listener?.live !== true) host.released(key, next);
  }

  /** Stops listening; ends a pool the driver created (the caller's stays open). */
  async close(): Promise<void> {
    const attached = this.#attached;
    if (attached === undefined) return;
    await attached.listener?.close();
    await attached.connection.close().catch(() => undefined);
  }

  #open(): Attached<D> {
    if (this.#attached === undefined) throw new Error(`${this.#driver} used before an engine attached it`);
    return this.#attached;
  }

  #listener(): ReleaseListener {
    const listener = this.#open().listener;
    if (listener === undefined) throw new Error(`this ${this.#driver} has no release feed`);
    return listener;
  }
}
