import type { Script, ScriptArg } from '@dlock/redis/protocol';
import type { RedisOptions } from 'ioredis';
import { resolveClient, whenConnected, type ResolvedClient } from './client.js';
import { SharedTimeout, withTimeout } from './timeout.js';
import type { RedisLockClient } from './types.js';

/**
 * The connection every Redis driver (mutex, read-write lock and semaphore, election) runs on:
 * the client is resolved when an engine attaches the driver (after it validated every option,
 * so a constructor that throws never leaves a connection open), script calls are bounded by
 * `operationTimeout`, and `close()` quits a client the driver created or detaches from the
 * caller's.
 */
export class RedisConnection {
  readonly #source: RedisLockClient | RedisOptions | string;
  readonly #operationTimeout: number;
  readonly #timeout: SharedTimeout;
  /** The driver's name in errors about its use before or after one engine. */
  readonly #what: string;
  #resolved: ResolvedClient | undefined;

  constructor(source: RedisLockClient | RedisOptions | string, operationTimeout: number, what: string) {
    this.#source = source;
    this.#operationTimeout = operationTimeout;
    this.#timeout = new SharedTimeout(operationTimeout);
    this.#what = what;
  }

  /** Connects (or adopts the caller's client). May throw `InvalidOptionError` for a bad client argument. */
  open(): void {
    if (this.#resolved !== undefined) throw new Error(`a ${this.#what} serves one engine`);
    this.#resolved = resolveClient(this.#source);
  }

  /** The client commands go through; resolved by {@link open}. */
  get client(): RedisLockClient {
    if (this.#resolved === undefined) throw new Error(`${this.#what} used before an engine attached it`);
    return this.#resolved.client;
  }

  /** The client's last connection failure (named in backend errors while it cannot connect). */
  lastConnectionError(): Error | undefined {
    return this.#resolved?.lastConnectionError();
  }

  /** Runs `script`, bounded by `operationTimeout`. */
  call<Args extends readonly ScriptArg[], Reply>(script: Script<Args, Reply>, args: Args): Promise<Reply> {
    return this.#timeout.bound(script.run(this.client, args), script.name);
  }

  /** Resolves once the client is connected (a subscriber duplicates it only then). */
  whenConnected(): Promise<void> {
    return whenConnected(this.client, this.#operationTimeout);
  }

  /** Quits a client the driver created (dropping it if the server does not answer), or detaches from the caller's. */
  async close(): Promise<void> {
    const resolved = this.#resolved;
    if (resolved === undefined) return;
    if (!resolved.owned) {
      // Yours stays open, with the listeners it had before this lock.
      resolved.dispose();
      return;
    }
    try {
      await withTimeout(resolved.client.quit(), this.#operationTimeout, 'quit');
    } catch {
      // Unreachable server: drop the connection below.
    } finally {
      resolved.client.disconnect();
    }
  }
}
