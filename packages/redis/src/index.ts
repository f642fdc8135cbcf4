export { RedisLock, defaultRedisLockOptions, type RedisLockOptions } from './redis-lock.js';
// The protocol is imported by its package name everywhere outside src/protocol/, so the build
// keeps it in one file (dist/protocol.*) shared with @dlock/redlock: one copy of each class.
export { redisLockKeys, type RedisLockKeys } from '@dlock/redis/protocol';
export { redisWaitListKeys, type RedisWaitListKeys } from './wait-list-keys.js';
export { redisLockScripts, LuaScript } from './scripts.js';
export { RedisTimeoutError } from './timeout.js';
export { UnexpectedReplyError } from '@dlock/redis/protocol';
export { ownedClientDefaults } from './client.js';
export type { RedisLockClient, RedisPipelineLike, RedisSubscriberLike, ScriptArg } from './types.js';
export { RedisReadWriteLock, type RedisReadWriteLockOptions } from './rw/redis-rw-lock.js';
export { RedisSemaphore, type RedisSemaphoreOptions } from './semaphore/redis-semaphore.js';
export type { RedisClaimOptions } from './claims/options.js';
export { redisClaimKeys, type RedisClaimKeys } from './claims/keys.js';
export { RedisElection, defaultRedisElectionOptions, type RedisElectionOptions } from './election/redis-election.js';
export { redisElectionKeys, type ElectionKeys as RedisElectionKeys } from './election/keys.js';
