/**
 * The client surface the scripts need, typed narrowly: an ioredis `Redis` or `Cluster` (v5 or
 * v6), or any wrapper with the same methods, satisfies it.
 */

/**
 * An argument of a script call: a key, a token, a TTL.
 * @example ['dlock:{job}', 'dlock:{job}:fence', token, 30_000]
 */
export type ScriptArg = string | number;

/** What runs one script call: EVALSHA, and EVAL when the server lacks the script. */
export interface ScriptClient {
  evalsha(sha: string, numberOfKeys: number, ...args: ScriptArg[]): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...args: ScriptArg[]): Promise<unknown>;
}

/** A pipeline: commands are queued, then sent in one write by `exec()` (ioredis `Pipeline`). */
export interface ScriptPipeline {
  evalsha(sha: string, numberOfKeys: number, ...args: ScriptArg[]): unknown;
  eval(script: string, numberOfKeys: number, ...args: ScriptArg[]): unknown;
  /** One `[error, result]` pair per queued command, in order. */
  exec(): Promise<Array<[error: Error | null, result: unknown]> | null>;
}

/** A client that can also pipeline (every batch goes to one server: group Cluster calls by node first). */
export interface PipelineClient extends ScriptClient {
  pipeline(): ScriptPipeline;
}
