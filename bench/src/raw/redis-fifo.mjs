// The fastest fair protocol one Redis allows, as a floor for the fairness rows: a FIFO line per
// key on the server, and a release that grants the key straight to the head of the line (one
// script call per hand-off, no acquire round trip after it). The releasing process resolves its
// own waiter from the reply; a waiter in another process learns of its grant by pub/sub. No
// fencing, no lease for a waiter that died, no lost-message recovery: a prototype, not a lock.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

// KEYS[1] the lock key, KEYS[2] the line (a list of waiting tokens)
// ARGV[1] the caller's token, ARGV[2] the lease in ms
// Returns 1: taken (the key was free); 0: queued at the end of the line
const ACQUIRE_LUA = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 0`;

// KEYS[1] the lock key, KEYS[2] the line
// ARGV[1] the holder's token, ARGV[2] the lease in ms, ARGV[3] the grant channel
// Returns the token the key was granted to ('' when the line was empty and the key is free),
// or false when ARGV[1] did not hold the key
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local next = redis.call('LPOP', KEYS[2])
if not next then redis.call('DEL', KEYS[1]) return '' end
redis.call('SET', KEYS[1], next, 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], next)
return next`;

export async function rawRedisFifo({ env }) {
  const client = new Redis(env.redisUrl).on('error', () => undefined);
  const subscriber = new Redis(env.redisUrl).on('error', () => undefined);
  client.defineCommand('fifoAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
  client.defineCommand('fifoRelease', { numberOfKeys: 2, lua: RELEASE_LUA });
  const granted = new Map(); // waiting token -> resolve
  const grant = (token) => {
    const resolve = granted.get(token);
    if (resolve === undefined) return; // another process's waiter, or already granted by a reply
    granted.delete(token);
    resolve();
  };
  subscriber.on('message', (_channel, token) => grant(token));
  const subscribed = new Map(); // channel -> Promise
  const subscribe = (channel) => {
    let p = subscribed.get(channel);
    if (p === undefined) subscribed.set(channel, (p = subscriber.subscribe(channel)));
    return p;
  };
  await client.ping();
  return {
    async acquire(key, ttl) {
      const line = `${key}:line`;
      const channel = `${key}:granted`;
      await subscribe(channel); // before queueing: a grant must not go unheard
      const token = randomUUID();
      const turn = new Promise((resolve) => granted.set(token, resolve));
      if ((await client.fifoAcquire(key, line, token, ttl)) === 1) granted.delete(token);
      else await turn;
      return async () => {
        const next = await client.fifoRelease(key, line, token, ttl, channel);
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
