// redis-semaphore: Mutex and Semaphore (one node) and RedlockMutex (N nodes). All poll: a failed
// attempt (SET NX, or the Semaphore's Lua script) sleeps retryInterval (default 10 ms) and gives
// up after acquireTimeout (10 s), which the bench wraps in an outer loop. A held lock refreshes
// itself every 0.8 x lockTimeout on its own timer.
// 'retry:<ms>': retryInterval <ms>.
import { Redis } from 'ioredis';
import { retryMs, untilAcquired } from './variant.mjs';

function optionsFor(variant, ttl) {
  const ms = retryMs(variant);
  return ms === undefined ? { lockTimeout: ttl } : { lockTimeout: ttl, retryInterval: ms };
}

async function semaphoreLocker(makeMutex, clients, variant) {
  const { TimeoutError } = await import('redis-semaphore');
  let closed = false; // set by giveUp() (the window is over) and close()
  const take = async (key, ttl) => {
    const mutex = makeMutex(key, optionsFor(variant, ttl));
    await untilAcquired(() => mutex.acquire(), (e) => e instanceof TimeoutError, () => closed);
    return () => mutex.release();
  };
  return {
    acquire: take,
    hold: take,
    renewInterval: (ttl) => Math.round(ttl * 0.8),
    giveUp() {
      closed = true;
    },
    async close() {
      closed = true;
      await Promise.allSettled(clients.map((c) => c.quit()));
      for (const c of clients) c.disconnect();
    },
  };
}

export async function semaphoreMutex({ env, variant }) {
  const { Mutex } = await import('redis-semaphore');
  const client = new Redis(env.redisUrl).on('error', () => undefined);
  await client.ping();
  return semaphoreLocker((key, o) => new Mutex(client, key, o), [client], variant);
}

/** Its Semaphore (a sorted set of holders per key): every acquisition one of `limit` permits. */
export async function semaphoreSemaphore({ env, variant, limit = 4 }) {
  const { Semaphore } = await import('redis-semaphore');
  const client = new Redis(env.redisUrl).on('error', () => undefined);
  await client.ping();
  return semaphoreLocker((key, o) => new Semaphore(client, key, limit, o), [client], variant);
}

export async function semaphoreRedlockMutex({ env, nodes, variant }) {
  const { RedlockMutex } = await import('redis-semaphore');
  const clients = env.redisNodeUrls.slice(0, nodes).map((url) => new Redis(url).on('error', () => undefined));
  await Promise.all(clients.map((c) => c.ping()));
  return semaphoreLocker((key, o) => new RedlockMutex(clients, key, o), clients, variant);
}
