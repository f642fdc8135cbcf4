// A raw loop over dlock's own Redis protocol: the acquire and release Lua scripts of
// @dlock/redis (acquire also increments and returns the key's fencing counter; release also
// PUBLISHes), called with EVALSHA on a plain client, with none of the library around them. The
// gap between this row and raw SET NX PX is the protocol's price; the gap between this row and
// dlock RedisLock is the library's.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function rawRedisDlockLua({ env }) {
  const { redisLockKeys, redisLockScripts } = await import('@dlock/redis');
  const client = new Redis(env.redisUrl).on('error', () => undefined);
  await client.ping();
  return {
    async acquire(key, ttl) {
      const keys = redisLockKeys('rawlua', key);
      const token = randomBytes(16).toString('hex');
      while ((await redisLockScripts.acquire.run(client, [keys.lock, keys.fence, token, ttl, ttl + 3_600_000]))[0] !== 1) await sleep(1);
      return () => redisLockScripts.release.run(client, [keys.lock, token, keys.channel, '']);
    },
    async close() {
      await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}
