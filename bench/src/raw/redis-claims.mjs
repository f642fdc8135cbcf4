// A raw loop over dlock's Redis semaphore protocol: the claim-acquire and claim-release Lua
// scripts of @dlock/redis (read from its source, sent with EVALSHA through ioredis
// defineCommand), with the same keys and arguments RedisSemaphore sends, and none of the library
// around them: no handles, validation, validity clock, watchdog or engine queue. Waiting is the
// protocol's own: a caller that is not admitted keeps its place in the key's server-side FIFO
// (and in this process's PlaceQueue, in the same order), subscribes to the key's channel once,
// and sleeps until a release message (or 100 ms). A release message wakes this process's first
// waiter of the key (one release frees one permit; the server's wait list decides which of the
// processes' first waiters gets it); this process's own releases wake it directly, and their
// messages (tagged with this instance's id) are skipped.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { PlaceQueue } from './place-queue.mjs';

const luaDir = new URL('../../../packages/redis/src/lua/', import.meta.url);
const lua = (name) => readFileSync(new URL(name, luaDir), 'utf8');

/** The fence counter is kept an hour past the lease, as RedisSemaphore's default fenceRetention. */
const FENCE_RETENTION_MS = 3_600_000;
/** A waiter's place outlives its retry delay by this much (RedisSemaphore: maxRetryDelay + 5 s). */
const PLACE_MS = 6_000;
/** A release latch, as RedisSemaphore's (2 x its 2 s operation timeout). */
const LATCH_MS = 4_000;

/** `limit`: the permits of every key (each acquisition takes one). */
export async function rawRedisSemaphore({ env, limit = 4 }) {
  const { redisClaimKeys } = await import('@dlock/redis');
  const client = new Redis(env.redisUrl).on('error', () => undefined);
  // The scripts run after claim-lib.lua (their shared counts and wait-list code), as @dlock/redis loads them.
  client.defineCommand('claimAcquire', { numberOfKeys: 4, lua: `${lua('claim-lib.lua')}\n${lua('claim-acquire.lua')}` });
  client.defineCommand('claimRelease', { numberOfKeys: 4, lua: `${lua('claim-lib.lua')}\n${lua('claim-release.lua')}` });
  const subscriber = new Redis(env.redisUrl).on('error', () => undefined);
  const instance = randomBytes(8).toString('hex');
  const places = new PlaceQueue();
  const keysByChannel = new Map();
  const subscribed = new Map(); // channel -> Promise
  subscriber.on('message', (channel, message) => {
    // '<instance id> <tokens the release admits>': this instance's own releases woke it already.
    if (message.split(' ')[0] !== instance) places.wake(keysByChannel.get(channel));
  });
  /** Resolves true once a new subscription is confirmed, false when the channel was subscribed already. */
  const subscribe = async (key, channel) => {
    const p = subscribed.get(channel);
    if (p !== undefined) return p.then(() => false);
    keysByChannel.set(channel, key);
    subscribed.set(channel, subscriber.subscribe(channel));
    await subscribed.get(channel);
    return true;
  };
  await Promise.all([client.ping(), subscriber.ping()]);
  return {
    async acquire(key, ttl) {
      const k = redisClaimKeys('rawclaims', key);
      const token = randomBytes(16).toString('hex');
      const place = places.join(key);
      let first = true;
      try {
        for (;;) {
          places.attempting(place);
          const [outcome, value] = await client.claimAcquire(k.holders, k.queue, k.claims, k.fence, token, ttl, 'p', 1, limit, 1, PLACE_MS, ttl + FENCE_RETENTION_MS, k.channel);
          if (outcome === 1) break;
          if (outcome !== 0) throw new Error(`claim-acquire answered ${outcome} ${value}`);
          if (first) {
            first = false;
            // A release between the attempt and a new subscription would go unheard: try again.
            if (await subscribe(key, k.channel)) continue;
          }
          await places.sleep(place, Math.min(100, value < 0 ? 100 : value + 1));
        }
      } finally {
        places.leave(place);
      }
      return async () => {
        const latch = `${k.channel}:${token}`;
        const [released] = await client.claimRelease(k.holders, k.queue, k.claims, latch, token, k.channel, instance, LATCH_MS);
        if (released === 1) places.wake(key);
      };
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
