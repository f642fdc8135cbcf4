// The fastest fair protocols one Redis allows, as floors for the fairness and hot-semaphore rows:
// a FIFO line per key on the server, and a release that grants the key (or the permit) straight
// to the head of the line in the same script call, so a hand-off is one script call, plus one
// pub/sub message when the head waits in another process, with no acquire after it. The
// releasing process resolves its own waiter from the reply. No fencing, no lease for a waiter
// that died, no lost-message recovery: prototypes, not locks.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { subscribeOnce } from './redis.mjs';

// Mutex. KEYS[1] the lock key, KEYS[2] the line (a list of waiting tokens)
// ARGV[1] the caller's token, ARGV[2] the lease in ms
// Returns 1: taken (the key was free); 0: queued at the end of the line
const MUTEX_ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 0`;

// Mutex. KEYS[1] the lock key, KEYS[2] the line
// ARGV[1] the holder's token, ARGV[2] the lease in ms, ARGV[3] the grant channel
// Returns the token the key went to ('' when the line was empty and the key is free), or false
// when ARGV[1] did not hold the key
const MUTEX_RELEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local next = redis.call('LPOP', KEYS[2])
if not next then redis.call('DEL', KEYS[1]) return '' end
redis.call('SET', KEYS[1], next, 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], next)
return next`;

// Semaphore. KEYS[1] the count of permits in use, KEYS[2] the line
// ARGV[1] the caller's token, ARGV[2] the limit
// Returns 1: a permit was free and nobody waited; 0: queued at the end of the line
const PERMIT_ACQUIRE = `if redis.call('LLEN', KEYS[2]) == 0 and tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[2]) then
  redis.call('INCR', KEYS[1])
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 0`;

// Semaphore. KEYS[1] the count, KEYS[2] the line; ARGV[1] the grant channel
// Returns the token the permit went to, or '' when nobody waited (the count went down)
const PERMIT_RELEASE = `local next = redis.call('LPOP', KEYS[2])
if not next then redis.call('DECR', KEYS[1]) return '' end
redis.call('PUBLISH', ARGV[1], next)
return next`;

/** The mutex floor (fairness section). */
export function rawRedisFifo({ env }) {
  return grantingLocker(env, {
    acquire: MUTEX_ACQUIRE,
    release: MUTEX_RELEASE,
    acquireArgs: (key, token, ttl) => [key, `${key}:line`, token, ttl],
    releaseArgs: (key, token, ttl, channel) => [key, `${key}:line`, token, ttl, channel],
  });
}

/** The semaphore floor (hot-semaphore section): each acquire takes one of `limit` permits. */
export function rawRedisFifoSemaphore({ env, limit = 4 }) {
  return grantingLocker(env, {
    acquire: PERMIT_ACQUIRE,
    release: PERMIT_RELEASE,
    acquireArgs: (key, token) => [`${key}:used`, `${key}:line`, token, limit],
    releaseArgs: (key, _token, _ttl, channel) => [`${key}:used`, `${key}:line`, channel],
  });
}

/** A locker over a granting protocol: `acquire` answers 1 (taken) or 0 (queued); `release` names the grantee. */
async function grantingLocker(env, protocol) {
  const client = new Redis(env.redisUrl).on('error', () => undefined);
  const subscriber = new Redis(env.redisUrl).on('error', () => undefined);
  client.defineCommand('fifoAcquire', { numberOfKeys: 2, lua: protocol.acquire });
  client.defineCommand('fifoRelease', { numberOfKeys: 2, lua: protocol.release });
  const granted = new Map(); // waiting token -> resolve
  const grant = (token) => {
    const resolve = granted.get(token);
    if (resolve === undefined) return; // another process's waiter, or already granted by a reply
    granted.delete(token);
    resolve();
  };
  subscriber.on('message', (_channel, token) => grant(token));
  const subscribe = subscribeOnce(subscriber);
  await client.ping();
  return {
    async acquire(key, ttl) {
      const channel = `${key}:granted`;
      await subscribe(channel); // before queueing: a grant must not go unheard
      const token = randomUUID();
      const turn = new Promise((resolve) => granted.set(token, resolve));
      if ((await client.fifoAcquire(...protocol.acquireArgs(key, token, ttl))) === 1) granted.delete(token);
      else await turn;
      return async () => {
        const next = await client.fifoRelease(...protocol.releaseArgs(key, token, ttl, channel));
        if (next) grant(next); // ours: no need to wait for the message
      };
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
