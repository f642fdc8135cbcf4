import { createHash } from 'node:crypto';
import type { PipelineClient, ScriptArg, ScriptClient, ScriptPipeline } from './types.js';

/**
 * The one script loader of dlock's Redis packages. A script is sent as EVALSHA (its SHA1, a
 * few bytes) and, when the server does not have it cached (first use, a restart, SCRIPT FLUSH,
 * a new Cluster node), as EVAL (the source; the server caches it again). The caller's client is
 * left untouched (unlike ioredis `defineCommand`), so this works the same for a single call, a
 * pipeline and a Cluster.
 */

/** What the loader needs of a script. */
export interface LoadableScript {
  /** Short name used in errors (`acquire`, `release`, ...). */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** SHA1 of the source: what EVALSHA sends instead of the script. */
  readonly sha: string;
  /** How many leading arguments are KEYS (the rest are ARGV). */
  readonly numberOfKeys: number;
}

/** SHA1 of a script's source, in hex (the name the server caches it under). */
export function scriptSha(source: string): string {
  return createHash('sha1').update(source).digest('hex');
}

/** The server answered `NOSCRIPT`: it does not have the script cached. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * The scripts one connection is known to have sent in full, so the server has them cached.
 * For a client that is one connection to one server (Redlock's node clients): the first call
 * of a script on it is an EVAL, which also keeps it ordered with the calls queued behind it
 * (an EVALSHA answered NOSCRIPT would be sent again after them). The owner calls `clear()`
 * whenever the connection closes: the next one may reach a restarted, empty server.
 */
export class ScriptCache {
  readonly #loaded = new Set<string>();

  has(script: LoadableScript): boolean {
    return this.#loaded.has(script.sha);
  }

  add(script: LoadableScript): void {
    this.#loaded.add(script.sha);
  }

  delete(script: LoadableScript): void {
    this.#loaded.delete(script.sha);
  }

  /** Forgets everything (the connection closed). */
  clear(): void {
    this.#loaded.clear();
  }
}

/**
 * Runs `script` once: EVALSHA, then EVAL if the server answers NOSCRIPT. With a `cache` (one
 * connection), a script this connection has not sent yet goes out as EVAL straight away.
 * Resolves the raw reply.
 */
export async function evalScript(
  client: ScriptClient,
  script: LoadableScript,
  args: readonly ScriptArg[],
  cache?: ScriptCache,
): Promise<unknown> {
  if (cache === undefined || cache.has(script)) {
    try {
      return await client.evalsha(script.sha, script.numberOfKeys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      cache?.delete(script);
    }
  }
  const reply = await client.eval(script.source, script.numberOfKeys, ...args);
  cache?.add(script);
  return reply;
}

/** Queues one call of `script` on `pipeline`: EVALSHA, or EVAL (`withSource`) to send the source. */
export function queueScript(pipeline: ScriptPipeline, script: LoadableScript, args: readonly ScriptArg[], withSource = false): void {
  if (withSource) pipeline.eval(script.source, script.numberOfKeys, ...args);
  else pipeline.evalsha(script.sha, script.numberOfKeys, ...args);
}

/** Options of {@link evalScriptMany}. */
export interface EvalManyOptions {
  /** The connection's script cache (see {@link ScriptCache}); without one every batch opens with EVAL. */
  readonly cache?: ScriptCache | undefined;
  /** Wraps each round trip, e.g. in a timeout; a rejection rejects the whole call. */
  readonly bound?: (<T>(roundTrip: Promise<T>) => Promise<T>) | undefined;
}

/**
 * Runs `script` once per entry of `calls` in one round trip, on one server (for a Cluster,
 * group the calls by node first: a pipeline must stay on one node). Resolves the raw reply or
 * the `Error` of each call, in order; rejects only when the round trip as a whole failed.
 *
 * One call is a plain {@link evalScript}. A batch opens with one EVAL (the source, ~1 KB,
 * unless `cache` says the connection has it) and continues with EVALSHAs: the EVAL puts the
 * script in the server's cache before the EVALSHAs behind it run, so a server that never saw
 * the script, or lost it in a restart, costs no extra round trip. Calls answered NOSCRIPT all
 * the same (the cache was flushed in the middle of the batch) are sent once more, the same way.
 */
export async function evalScriptMany(
  client: PipelineClient,
  script: LoadableScript,
  calls: readonly (readonly ScriptArg[])[],
  options: EvalManyOptions = {},
): Promise<Array<unknown>> {
  const bound = options.bound ?? (<T>(p: Promise<T>) => p);
  if (calls.length === 0) return [];
  if (calls.length === 1) {
    try {
      return [await bound(evalScript(client, script, calls[0]!, options.cache))];
    } catch (error) {
      // An error reply is this call's result, as in a batch; anything else failed the round trip.
      if (error instanceof Error && error.name === 'ReplyError') return [error];
      throw error;
    }
  }
  const results = await sendBatch(client, script, calls, options.cache, bound);
  const missing = results.flatMap((r, i) => (isNoScript(r) ? [i] : []));
  if (missing.length > 0) {
    options.cache?.delete(script);
    const retried = await sendBatch(client, script, missing.map((i) => calls[i]!), options.cache, bound);
    missing.forEach((index, j) => {
      results[index] = retried[j];
    });
  }
  return results;
}

async function sendBatch(
  client: PipelineClient,
  script: LoadableScript,
  calls: readonly (readonly ScriptArg[])[],
  cache: ScriptCache | undefined,
  bound: <T>(roundTrip: Promise<T>) => Promise<T>,
): Promise<unknown[]> {
  const pipeline = client.pipeline();
  const load = cache === undefined || !cache.has(script);
  calls.forEach((args, i) => queueScript(pipeline, script, args, load && i === 0));
  const replies = await bound(pipeline.exec());
  cache?.add(script);
  return calls.map((_, i) => {
    const entry = replies?.[i];
    if (entry === undefined) return new Error(`no reply to the ${script.name} script in the pipeline`);
    return entry[0] ?? entry[1];
  });
}
