// dlock's Redis read-write lock and semaphore as bench contenders, each over a plain ioredis
// client (the same kind of client the raw loops and the peers get).
//   dlock-redis-semaphore: RedisSemaphore, every acquisition one permit of `limit`.
//   dlock-redis-rw:        RedisReadWriteLock; acquire() takes the write lock, acquireRead() a read lock.
import { Redis } from 'ioredis';
import { rwContender, semaphoreContender } from './claim-contenders.mjs';

async function clientFor(url) {
  const client = new Redis(url).on('error', () => undefined);
  await client.ping();
  return client;
}

/** Closes the primitive, then the client it was given. */
function closer(primitive, client) {
  return async () => {
    await primitive.close();
    await client.quit().catch(() => undefined);
    client.disconnect();
  };
}

export async function dlockRedisSemaphore({ env, limit = 4 }) {
  const { RedisSemaphore } = await import('@dlock/redis');
  const client = await clientFor(env.redisUrl);
  const sem = new RedisSemaphore(client);
  return semaphoreContender(sem, limit, closer(sem, client));
}

export async function dlockRedisRW({ env }) {
  const { RedisReadWriteLock } = await import('@dlock/redis');
  const client = await clientFor(env.redisUrl);
  const rw = new RedisReadWriteLock(client);
  return rwContender(rw, closer(rw, client));
}
