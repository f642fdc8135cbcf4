// The raw Redis protocol, the physical limit for the single-node rows: SET NX PX to acquire, an
// owner-checked delete in Lua (EVALSHA through ioredis defineCommand) to release. No fencing
// counter, no validity bookkeeping, no handle objects.
//   raw-redis:        waits by polling every 1 ms (only used uncontended).
//   raw-redis-pubsub: the hand-off prototype; release also PUBLISHes, waiters subscribe once
//                     per key and are woken one at a time per process (WakeQueue).
//   hold():           the watchdog baseline, one pipeline of EVALSHA renewals every ttl/3
//                     (the script loaded once with SCRIPT LOAD; plain evalsha in the pipeline).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { WakeQueue } from './wake-queue.mjs';

export const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0`;
export const RELEASE_PUBLISH_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) redis.call('PUBLISH', KEYS[2], ARGV[1]) return 1 end return 0`;
export const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/** An ioredis client with the raw scripts defined (sent as EVALSHA, EVAL only after NOSCRIPT). */
export function rawClient(url) {
  const client = new Redis(url).on('error', () => undefined);
  client.defineCommand('rawRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  client.defineCommand('rawReleasePublish', { numberOfKeys: 2, lua: RELEASE_PUBLISH_LUA });
  client.defineCommand('rawRenew', { numberOfKeys: 1, lua: RENEW_LUA });
  return client;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `subscribe(channel)` on `subscriber`, sent once per channel: later calls get the first one's promise. */
export function subscribeOnce(subscriber) {
  const subscribed = new Map(); // channel -> Promise
  return (channel) => {
    let p = subscribed.get(channel);
    if (p === undefined) subscribed.set(channel, (p = subscriber.subscribe(channel)));
    return p;
  };
}

/** SET NX PX + EVALSHA release; polls every 1 ms while the key is taken. */
export async function rawRedis({ env }) {
  const client = rawClient(env.redisUrl);
  const held = new Map(); // key -> { token, ttl }, renewed by hold()'s timer
  let renewTimer;
  let renewSha;
  let pipelines = 0;
  let pipelinedCommands = 0;
  const take = async (key, ttl) => {
    const token = randomUUID();
    while ((await client.set(key, token, 'PX', ttl, 'NX')) !== 'OK') await sleep(1);
    return token;
  };
  await client.ping();
  return {
    async acquire(key, ttl) {
      const token = await take(key, ttl);
      return () => client.rawRelease(key, token);
    },
    async hold(key, ttl) {
      const token = await take(key, ttl);
      held.set(key, { token, ttl });
      renewSha ??= client.script('LOAD', RENEW_LUA);
      const sha = await renewSha;
      renewTimer ??= setInterval(() => {
        if (held.size === 0) return;
        const p = client.pipeline();
        for (const [k, h] of held) p.evalsha(sha, 1, k, h.token, h.ttl);
        pipelines++;
        pipelinedCommands += p.length;
        p.exec().catch(() => undefined);
      }, Math.floor(ttl / 3));
      return async () => {
        held.delete(key);
        await client.rawRelease(key, token);
      };
    },
    renewInterval: (ttl) => Math.floor(ttl / 3),
    stats: () => ({ pipelines, pipelinedCommands }),
    async close() {
      clearInterval(renewTimer);
      await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}

/** The pub/sub hand-off prototype: SET NX PX; on failure sleep until a release message. */
export async function rawRedisPubSub({ env }) {
  const client = rawClient(env.redisUrl);
  const subscriber = new Redis(env.redisUrl).on('error', () => undefined);
  const wakes = new WakeQueue();
  subscriber.on('message', (channel) => wakes.wake(channel.slice(0, -':released'.length)));
  const subscribeChannel = subscribeOnce(subscriber);
  const subscribe = (key) => subscribeChannel(`${key}:released`);
  await client.ping();
  return {
    async acquire(key, ttl) {
      const token = randomUUID();
      let first = true;
      for (;;) {
        if ((await client.set(key, token, 'PX', ttl, 'NX')) === 'OK') {
          return () => client.rawReleasePublish(key, `${key}:released`, token);
        }
        if (first) {
          first = false;
          await subscribe(key);
          continue; // a release between the SET and the subscription would go unheard
        }
        await wakes.wait(key, 100);
      }
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
