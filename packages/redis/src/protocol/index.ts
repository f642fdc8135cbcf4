/**
 * `@dlock/redis/protocol`: the Redis protocol code shared by `@dlock/redis` and
 * `@dlock/redlock` (typed scripts, the one script loader, reply parsing, the key layout, the
 * release script).
 *
 * **Internal to dlock's packages.** It is published only so that `@dlock/redlock` can import
 * it; it carries no semver promise and may change in any release. Applications should use the
 * public exports of `@dlock/redis` (`redisLockKeys`, `redisLockScripts`, ...).
 *
 * @packageDocumentation
 * @internal
 */
export { UnexpectedReplyError, describeReply } from './errors.js';
export { redisLockKeys, releaseLatchKey, hashTag, type RedisLockKeys } from './keys.js';
export {
  evalScript,
  evalScriptMany,
  isNoScript,
  queueScript,
  scriptSha,
  ScriptCache,
  type EvalManyOptions,
  type LoadableScript,
} from './loader.js';
export { decimal, flag, integer, text, tuple } from './replies.js';
export { releaseScript, type ReleaseArgs } from './release.js';
export { defineScript, type Script, type ScriptDefinition } from './script.js';
export type { PipelineClient, ScriptArg, ScriptClient, ScriptPipeline } from './types.js';
