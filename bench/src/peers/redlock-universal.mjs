// redlock-universal: createLock (its SimpleLock, one node) and createRedlock (its RedLock, N
// nodes), through its IoredisAdapter. A lock object is bound to one key; the bench keeps one per
// key while some acquire() or holder uses it, as an application keeps one per resource. Neither
// waits: acquire() polls SET NX PX every retryDelay ms (100; RedLock 200) and gives up after
// retryAttempts (3) retries, so the bench wraps it in an outer loop (most hot-key acquisitions
// at the defaults come through that loop). The standard mode PINGs on the first acquire() of a
// lock object (a health check, again every 30 s): a PING per acquisition on keys used once.
// 'lean' (createLock only): performance 'lean', no health check or circuit breaker.
// 'retry:<ms>': retryDelay <ms> and as many retries as fit in about a second (as the redlock family).
import { Redis } from 'ioredis';
import { retryMs, untilAcquired } from './variant.mjs';

function settingsFor(variant) {
  if (variant === 'lean') return { performance: 'lean' };
  const ms = retryMs(variant);
  if (ms === undefined) return {};
  const delay = Math.round(ms); // it takes whole milliseconds only
  return { retryDelay: delay, retryAttempts: Math.max(1, Math.round(1_000 / Math.max(1, delay))) };
}

/** "Someone else holds it" (retry), as opposed to a Redis error or an open circuit breaker (throw). */
function isContention(LockAcquisitionError, error) {
  return error instanceof LockAcquisitionError && /already held|quorum not achieved/.test(error.cause?.message ?? '');
}

async function universalLocker(makeLock, clients) {
  const { LockAcquisitionError } = await import('redlock-universal');
  const locks = new Map(); // `${ttl}:${key}` -> { lock, users }
  let closed = false; // set by giveUp() (the window is over) and close()
  const take = async (key, ttl) => {
    const id = `${ttl}:${key}`;
    let entry = locks.get(id);
    if (entry === undefined) {
      entry = { lock: makeLock(key, ttl), users: 0 };
      locks.set(id, entry);
    }
    entry.users++;
    const done = () => {
      if (--entry.users === 0) locks.delete(id);
    };
    let handle;
    try {
      handle = await untilAcquired(() => entry.lock.acquire(), (e) => isContention(LockAcquisitionError, e), () => closed);
    } catch (error) {
      done();
      throw error;
    }
    return async () => {
      try {
        await entry.lock.release(handle);
      } finally {
        done();
      }
    };
  };
  return {
    acquire: take,
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

// A client closed while the library still writes to it emits 'error': expected at the end.
const clientOf = (url) => new Redis(url).on('error', () => undefined);

export async function universalLock({ env, variant }) {
  const { createLock, IoredisAdapter } = await import('redlock-universal');
  const client = clientOf(env.redisUrl);
  await client.ping();
  const adapter = new IoredisAdapter(client);
  const settings = settingsFor(variant);
  return universalLocker((key, ttl) => createLock({ adapter, key, ttl, ...settings }), [client]);
}

export async function universalRedlock({ env, nodes, variant }) {
  const { createRedlock, IoredisAdapter } = await import('redlock-universal');
  const clients = env.redisNodeUrls.slice(0, nodes).map(clientOf);
  await Promise.all(clients.map((c) => c.ping()));
  const adapters = clients.map((c) => new IoredisAdapter(c));
  const settings = settingsFor(variant); // createRedlock takes no `performance` ('lean' is createLock's)
  return universalLocker((key, ttl) => createRedlock({ adapters, key, ttl, ...settings }), clients);
}
