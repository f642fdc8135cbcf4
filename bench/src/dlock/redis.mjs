// dlock's Redis backend as a bench contender: RedisLock over a plain ioredis client (the same
// kind of client the raw loop and the peers get). Variant 'coalesce': through LockService with
// local coalescing (same-key callers of one process queue locally first); 'handover': coalescing
// that also passes the held lock to the next local caller (coalesce: { handOver: true }). 'unfair':
// fair: false (a released key goes to whoever asks first; local hand-over as before issue 19).
import { Redis } from 'ioredis';
import { acquireVia } from './with-lock.mjs';

/** A RedisLock on its own client; counts the client's pipelines (watchdog workload). */
export async function makeRedisLock(url, options = {}) {
  const { RedisLock } = await import('@dlock/redis');
  const client = new Redis(url).on('error', () => undefined);
  const counters = { pipelines: 0, pipelinedCommands: 0 };
  const pipeline = client.pipeline.bind(client);
  client.pipeline = (...args) => {
    const p = pipeline(...args);
    const exec = p.exec.bind(p);
    p.exec = (...a) => {
      counters.pipelines++;
      counters.pipelinedCommands += p.length;
      return exec(...a);
    };
    return p;
  };
  await client.ping();
  const lock = new RedisLock(client, options);
  const close = async () => {
    await lock.close();
    await client.quit().catch(() => undefined);
    client.disconnect();
  };
  return { lock, counters, close };
}

export async function dlockRedis({ env, variant }) {
  const { LockService } = await import('@dlock/core');
  const { lock, counters, close } = await makeRedisLock(env.redisUrl, variant === 'unfair' ? { fair: false } : {});
  const coalesce = { coalesce: true, handover: { handOver: true } }[variant];
  const service = coalesce === undefined ? undefined : new LockService(lock, { coalesce });
  let lost = 0;
  return {
    acquire: service
      ? (key, ttl) => acquireVia((fn) => service.withLock(key, fn, { ttl }))
      : async (key, ttl) => {
          const handle = await lock.lock(key, { ttl });
          return () => handle.release();
        },
    async hold(key, ttl) {
      const handle = await lock.lock(key, { ttl });
      const stop = lock.autoRenew(handle);
      handle.signal.addEventListener('abort', () => {
        if (handle.signal.reason?.name === 'LockLostError') lost++;
      });
      return async () => {
        stop();
        await handle.release();
      };
    },
    renewInterval: (ttl) => Math.floor(ttl / 3),
    stats: () => ({ ...counters, lost }),
    close,
  };
}
