import { ScriptCache, type Script, type ScriptArg } from '@dlock/redis/protocol';
import { Redis, type RedisOptions } from 'ioredis';
import { RedlockNodeTimeoutError } from './errors.js';

/**
 * One Redlock node as the caller gives it: an ioredis client (used as is and left open at
 * `close()`), or options / a `redis://` URL from which Redlock makes (and later closes) its own.
 * @example
 * ```ts
 * const nodes: RedlockNode[] = [new Redis(6379), { host: '10.0.0.2', port: 6379 }, 'redis://10.0.0.3:6379'];
 * ```
 */
export type RedlockNode = Redis | RedisOptions | string;

/**
 * A reply is waited for at most this many node timeouts after the command went out (the `cap`
 * of {@link NodeClient.run}, unless a call gives its own), however lively the node is meanwhile.
 */
export const ANSWER_CAP_FACTOR = 20;

/**
 * One independent Redis master: runs Redlock's scripts with a per-node deadline, and owns a
 * subscriber connection (made on first use) for release announcements.
 *
 * The deadline is about silence, not queueing: a command fails once the node has owed us
 * replies and sent none for `timeout` ms. A stopped or partitioned node is given up on after
 * `timeout`, while a burst (1000 acquires at once) that keeps a healthy node busy for longer does
 * not fail; `cap` bounds the wait in any case (an answer after the lease ended is useless).
 */
export class NodeClient {
  /** `host:port`, used in errors. */
  readonly label: string;
  readonly client: Redis;
  readonly #owned: boolean;
  readonly #onMessage: (channel: string, message: string) => void;
  #subscriber: Redis | undefined;
  /** When this node last answered anything (performance.now()). */
  #lastReply = 0;
  /** Scripts this connection has sent in full, so EVALSHA will find them (forgotten on reconnect). */
  readonly #scripts = new ScriptCache();
  readonly #forgetScripts = (): void => this.#scripts.clear();
  /** Whether this connection was ever ready: its first connect is not counted as silence. */
  #everReady = false;
  /** Whether the first connection attempt is over (ready or failed): later ones get no grace. */
  #firstAttemptOver = false;
  /** Owned clients: the error of the last failed connection attempt, until the next success. */
  #connectionError: Error | undefined;
  readonly #alive = (): void => {
    this.#connectionError = undefined;
    this.#everReady = true;
    this.#lastReply = performance.now();
  };

  constructor(
    node: RedlockNode,
    onMessage: (channel: string, message: string) => void,
    /** The subscriber reconnected: announcements sent during the gap are lost. */
    private readonly onResubscribed: () => void = () => {},
  ) {
    this.#owned = !isClient(node);
    this.client = isClient(node) ? node : typeof node === 'string' ? new Redis(node) : new Redis(node);
    // Failures reach us through the commands; a listener keeps ioredis from logging each one.
    // The last one is kept to say why a silent node is silent (ECONNREFUSED, ENOTFOUND, auth...).
    if (this.#owned) {
      this.client.on('error', (error: Error) => {
        if (this.client.status !== 'ready') this.#connectionError = error;
      });
    }
    // A new connection may be to a restarted, empty server: send scripts in full again.
    this.client.on('close', this.#forgetScripts);
    this.client.on('close', () => (this.#firstAttemptOver = true));
    this.client.on('ready', this.#alive);
    const o = this.client.options;
    this.label = o.path ? String(o.path) : `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
    this.#onMessage = onMessage;
  }

  /**
   * Runs `script` once and resolves its parsed reply; rejects with
   * {@link RedlockNodeTimeoutError} when the node falls silent. The first call of a script on
   * this connection is an EVAL, later ones EVALSHA (NOSCRIPT falls back to EVAL).
   */
  run<Args extends readonly ScriptArg[], Reply>(
    script: Script<Args, Reply>,
    args: Args,
    timeout: number,
    cap = timeout * ANSWER_CAP_FACTOR,
  ): Promise<Reply> {
    return this.#within(script.run(this.client, args, this.#scripts), timeout, cap);
  }

  /**
   * Runs `script` once per call in one pipeline (one round trip). Resolves one parsed reply or
   * `Error` per call; rejects (timeout, connection) only when the whole pipeline failed.
   * Calls answered NOSCRIPT (a flushed cache) are sent again.
   */
  runMany<Args extends readonly ScriptArg[], Reply>(
    script: Script<Args, Reply>,
    calls: readonly Args[],
    timeout: number,
    cap = timeout * ANSWER_CAP_FACTOR,
  ): Promise<Array<Reply | Error>> {
    return this.#within(script.runMany(this.client, calls, { cache: this.#scripts }), timeout, cap);
  }

  /** Subscribes to `channel`; rejects when the node falls silent (the subscription may still complete later). */
  subscribe(channel: string, timeout: number): Promise<unknown> {
    return this.#within(this.#sub().subscribe(channel), timeout, timeout * ANSWER_CAP_FACTOR);
  }

  unsubscribe(channel: string): void {
    this.#subscriber?.unsubscribe(channel).catch(ignore);
  }

  /** Closes what Redlock opened: the subscriber always, the command connection if it made it. */
  async close(timeout: number): Promise<void> {
    this.#subscriber?.disconnect();
    this.client.off('close', this.#forgetScripts);
    this.client.off('ready', this.#alive);
    if (!this.#owned) return;
    // QUIT lets replies in flight arrive; a node that does not answer (paused) is just dropped.
    await this.#within(this.client.quit(), timeout, timeout).catch(ignore);
    this.client.disconnect();
  }

  #sub(): Redis {
    if (this.#subscriber === undefined) {
      // Its own connection: a subscribed connection cannot run commands. ioredis re-subscribes
      // after a reconnect, and queues SUBSCRIBE until the connection is up.
      const sub = this.client.duplicate({ autoResubscribe: true, enableOfflineQueue: true, lazyConnect: false });
      sub.on('error', ignore);
      sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
      let wasReady = false;
      sub.on('ready', () => {
        if (wasReady) this.onResubscribed();
        wasReady = true;
      });
      this.#subscriber = sub;
    }
    return this.#subscriber;
  }

  /**
   * `promise`, or a {@link RedlockNodeTimeoutError} once the node has answered nothing for
   * `timeout` ms since this command went out (or `cap` ms after that, whichever is first).
   * The late outcome of a timed-out command is dropped.
   *
   * While the very first connection attempt is under way, only `cap` applies. The clock starts when the current
   * synchronous burst is over (a thousand `tryLock()` calls issued in one tick take tens of ms
   * to queue; that is our time, not the node's), and the
   * verdict waits until the event loop has read the sockets, so replies that already arrived
   * while this process was busy count as answers.
   */
  #within<T>(promise: Promise<T>, timeout: number, cap: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      let immediate: NodeJS.Immediate | undefined;
      const check = (): void => {
        const now = performance.now();
        // A first connection (TCP + HELLO) on a busy machine can take longer than a node
        // timeout meant for answers; it gets the cap, a node that once answered does not.
        // Only while that first attempt is under way: a node that refused it, and is now
        // between 'reconnecting' and 'connecting' again, is silent like any other.
        const firstConnect =
          !this.#everReady && !this.#firstAttemptOver && ['wait', 'connecting', 'connect'].includes(this.client.status);
        const deadline = firstConnect ? sent + cap : Math.min(Math.max(this.#lastReply, sent) + timeout, sent + cap);
        if (now >= deadline) {
          const why = this.client.status === 'ready' ? undefined : this.#connectionError;
          reject(new RedlockNodeTimeoutError(this.label, timeout, why));
        }
        else timer = setTimeout(judge, deadline - now);
      };
      const judge = (): void => {
        immediate = setImmediate(check);
      };
      immediate = setImmediate(() => {
        if (settled) return;
        sent = performance.now();
        timer = setTimeout(judge, timeout);
      });
      const settle = (): void => {
        settled = true;
        clearTimeout(timer);
        clearImmediate(immediate);
        this.#lastReply = performance.now();
      };
      promise.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}

/** Whether `node` is a client object (anything that can run EVALSHA), not options or a URL. */
export function isClient(node: RedlockNode): node is Redis {
  return typeof node === 'object' && node !== null && typeof (node as Redis).evalsha === 'function';
}

function ignore(): void {}
