export { RedisLock, defaultRedisLockOptions, type RedisLockOptions } from './redis-lock.js';
export { redisLockKeys, type RedisLockKeys } from './keys.js';
export { redisLockScripts, LuaScript } from './scripts.js';
export { RedisTimeoutError } from './timeout.js';
export { UnexpectedReplyError } from './replies.js';
export { ownedClientDefaults } from './client.js';
export type { RedisLockClient, RedisPipelineLike, RedisSubscriberLike, ScriptArg } from './types.js';
