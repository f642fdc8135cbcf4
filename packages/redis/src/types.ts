/**
 * The part of the ioredis API that `RedisLock` uses, typed narrowly so that an ioredis `Redis`,
 * an ioredis `Cluster` (v5 or v6), or any wrapper with the same methods can be passed in.
 */
import type { ScriptArg } from '@dlock/redis/protocol';

export type { ScriptArg } from '@dlock/redis/protocol';

/**
 * A pipeline: commands are queued, then sent in one write by `exec()` (ioredis `Pipeline`).
 * @example
 * ```ts
 * const p: RedisPipelineLike = client.pipeline();
 * ```
 */
export interface RedisPipelineLike {
  evalsha(sha: string, numberOfKeys: number, ...args: ScriptArg[]): unknown;
  eval(script: string, numberOfKeys: number, ...args: ScriptArg[]): unknown;
  /** One `[error, result]` pair per queued command, in order. */
  exec(): Promise<Array<[error: Error | null, result: unknown]> | null>;
}

/**
 * The connection `RedisLock` subscribes to release channels on: a `duplicate()` of the client
 * (an ioredis `Redis` or `Cluster`).
 * @example
 * ```ts
 * const subscriber: RedisSubscriberLike = client.duplicate();
 * ```
 */
export interface RedisSubscriberLike {
  /** `ready` while connected and usable (ioredis `status`). */
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

/**
 * The client surface `RedisLock` needs: scripts (single and pipelined), a duplicate connection
 * for pub/sub, and shutdown. An ioredis `Redis` or `Cluster` satisfies it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const client: RedisLockClient = new Redis('redis://127.0.0.1:6379');
 * ```
 */
export interface RedisLockClient {
  /** ioredis connection status; `ready` when commands are sent immediately. */
  readonly status: string;
  /** `true` for an ioredis `Cluster`: renewals are then pipelined per node. */
  readonly isCluster: boolean;
  /** Client options; only `keyPrefix` is read (it takes part in Cluster slot routing). */
  readonly options?: { readonly keyPrefix?: string | undefined } | undefined;
  /** Cluster only: the node keys serving each of the 16384 slots. */
  readonly slots?: ReadonlyArray<readonly string[] | undefined> | undefined;
  evalsha(sha: string, numberOfKeys: number, ...args: ScriptArg[]): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...args: ScriptArg[]): Promise<unknown>;
  pipeline(): RedisPipelineLike;
  /** A new connection with the same options, used as the subscriber. */
  duplicate(): RedisSubscriberLike;
  /** Used only on a client the lock created (it never closes yours). */
  quit(): Promise<unknown>;
  /** Used only on a client the lock created. */
  disconnect(): void;
}
