import type { Watcher } from 'etcd3';
import type { EtcdClient } from './client.js';

/**
 * What a {@link DeleteWatch} reports: `deleted` when the key was deleted (at or after the start
 * revision); `resync` when events may have been missed (the watch stream reconnected, or etcd
 * cancelled the watch, e.g. after a compaction), so the owner must re-read the key.
 */
export type DeleteWatchEvent = 'deleted' | 'resync';

/**
 * Watches one key for its deletion through the client's shared watch stream (etcd3 multiplexes
 * all watchers of a client over one stream and re-creates them after a reconnect).
 *
 * Starting at a known revision means a deletion that happens before the watch is registered is
 * still reported. etcd3 resumes a reconnected watcher after the last revision it saw, which
 * can skip events that were in flight; so every reconnect is reported as `resync`.
 */
export class DeleteWatch {
  readonly #client: EtcdClient;
  readonly #key: Buffer;
  readonly #onEvent: (event: DeleteWatchEvent) => void;
  #watcher: Watcher;
  #cancelled = false;
  #resolveReady!: () => void;
  /** Resolves once etcd confirmed the watch (never rejects; it may never resolve while etcd is down). */
  readonly ready: Promise<void>;

  constructor(client: EtcdClient, key: Buffer, startRevision: bigint | undefined, onEvent: (event: DeleteWatchEvent) => void) {
    this.#client = client;
    this.#key = key;
    this.#onEvent = onEvent;
    this.ready = new Promise<void>((resolve) => (this.#resolveReady = resolve));
    this.#watcher = this.#create(startRevision);
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Stops watching; no event is reported afterwards. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#resolveReady();
    try {
      this.#watcher.cancel().catch(() => undefined);
    } catch {
      // etcd3 throws synchronously when its watch stream is in an unexpected state; the watcher
      // is dropped with the stream then.
    }
  }

  #create(startRevision: bigint | undefined): Watcher {
    const builder = this.#client.watch().key(this.#key).only('delete');
    if (startRevision !== undefined) builder.startRevision(startRevision.toString());
    const watcher = builder.watcher();
    const live = () => !this.#cancelled && this.#watcher === watcher;
    let connected = false;
    let disconnected = false;
    watcher.on('delete', () => {
      if (live()) this.#onEvent('deleted');
    });
    watcher.on('connected', () => {
      if (!connected) {
        connected = true;
        this.#resolveReady();
      } else if (disconnected && live()) {
        disconnected = false;
        this.#onEvent('resync');
      }
    });
    watcher.on('disconnected', () => {
      disconnected = true;
    });
    // etcd cancelled the watch (compaction, or a server-side error): watch again from now on
    // and let the owner re-read what it may have missed. Without a listener, an 'error' event
    // would be thrown by the EventEmitter.
    watcher.on('error', () => {
      if (!live()) return;
      this.#watcher = this.#create(undefined);
      this.#onEvent('resync');
    });
    return watcher;
  }
}
