import { UnexpectedReplyError } from './errors.js';
import { evalScript, evalScriptMany, queueScript, scriptSha, type EvalManyOptions, type LoadableScript, type ScriptCache } from './loader.js';
import type { PipelineClient, ScriptArg, ScriptClient, ScriptPipeline } from './types.js';

/** What {@link defineScript} takes. */
export interface ScriptDefinition<Reply> {
  /** Short name used in errors (`acquire`, `release`, ...). */
  readonly name: string;
  /** The Lua source (a `src/lua/*.lua` file, imported with `?raw`). */
  readonly source: string;
  /** How many leading arguments are KEYS (the rest are ARGV). */
  readonly keys: number;
  /**
   * Turns the raw reply into `Reply`; throws (anything) when the reply is not one the script
   * can give. The helpers of `replies.ts` say what they expected.
   */
  readonly parse: (reply: unknown) => Reply;
}

/**
 * A typed script: `Args` are its KEYS then its ARGV, in order; `Reply` what its replies parse
 * to. Every way of running it goes through the one loader (`loader.ts`), and every malformed
 * reply is an {@link UnexpectedReplyError} naming the script and the reply.
 */
export interface Script<Args extends readonly ScriptArg[], Reply> extends LoadableScript {
  /** The reply, parsed; throws {@link UnexpectedReplyError} for one the script cannot give. */
  parse(reply: unknown): Reply;
  /** Runs the script once: EVALSHA, EVAL on NOSCRIPT (see {@link evalScript} for `cache`). */
  run(client: ScriptClient, args: Args, cache?: ScriptCache): Promise<Reply>;
  /** Queues an EVALSHA on `pipeline` (parse its reply with {@link Script.parse}). */
  queue(pipeline: ScriptPipeline, args: Args): void;
  /** Queues an EVAL: sends the source, which the server caches for the EVALSHAs behind it. */
  queueSource(pipeline: ScriptPipeline, args: Args): void;
  /**
   * Runs the script once per entry of `calls` in one round trip to one server, EVAL first
   * (see {@link evalScriptMany}). Resolves each call's parsed reply or its `Error` (an error
   * reply, or an {@link UnexpectedReplyError}); rejects when the round trip failed as a whole.
   */
  runMany(client: PipelineClient, calls: readonly Args[], options?: EvalManyOptions): Promise<Array<Reply | Error>>;
}

/**
 * Defines a typed script.
 *
 * @example
 * ```ts
 * const renew = defineScript<[lock: string, token: string, ttl: number], boolean>({
 *   name: 'renew',
 *   source: renewLua,
 *   keys: 1,
 *   parse: (reply) => flag(reply),
 * });
 * const held = await renew.run(client, ['dlock:{job}', token, 30_000]);
 * ```
 */
export function defineScript<Args extends readonly ScriptArg[], Reply>(definition: ScriptDefinition<Reply>): Script<Args, Reply> {
  const { name, source, keys, parse: read } = definition;
  if (!Number.isInteger(keys) || keys < 0) throw new RangeError(`script ${name}: keys must be an integer >= 0, got ${keys}`);
  const parse = (reply: unknown): Reply => {
    try {
      return read(reply);
    } catch (error) {
      if (error instanceof UnexpectedReplyError) throw error;
      throw new UnexpectedReplyError(name, reply, error instanceof Error ? error : new Error(String(error)));
    }
  };
  const script: Script<Args, Reply> = {
    name,
    source,
    sha: scriptSha(source),
    numberOfKeys: keys,
    parse,
    run: async (client, args, cache) => parse(await evalScript(client, script, args, cache)),
    queue: (pipeline, args) => queueScript(pipeline, script, args),
    queueSource: (pipeline, args) => queueScript(pipeline, script, args, true),
    runMany: async (client, calls, options) =>
      (await evalScriptMany(client, script, calls, options)).map((reply): Reply | Error => {
        if (reply instanceof Error) return reply;
        try {
          return parse(reply);
        } catch (error) {
          return error as UnexpectedReplyError;
        }
      }),
  };
  return Object.freeze(script);
}
