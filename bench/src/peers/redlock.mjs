// The redlock family: redlock 4.2.0 (callback/bluebird era), redlock 5.0.0-beta.2 and its
// maintained fork @sesamecare-oss/redlock. All poll: a failed attempt sleeps retryDelay ±
// retryJitter ms (defaults 200 ± 100) and gives up after retryCount (10) retries, which the
// bench wraps in an outer loop. 'retry:<ms>': retryDelay <ms>, jitter <ms>/2, and as many retries
// as fit in about a second (the outer loop goes on from there). Not unlimited (retryCount -1): an
// attempt abandoned after the window would then retry forever, and redlock 5 keeps a record of
// every attempt: the --full run ran out of memory that way.
import { Redis } from 'ioredis';
import { retryMs, untilAcquired } from './variant.mjs';

function clientsFor({ env, nodes }) {
  const urls = nodes ? env.redisNodeUrls.slice(0, nodes) : [env.redisUrl];
  // A client closed while the library still writes to it emits 'error': expected at the end.
  return urls.map((url) => new Redis(url).on('error', () => undefined));
}

function settingsFor(variant) {
  const ms = retryMs(variant);
  return ms === undefined ? {} : { retryCount: Math.max(1, Math.round(1_000 / ms)), retryDelay: ms, retryJitter: Math.floor(ms / 2) };
}

async function closeClients(clients) {
  await Promise.allSettled(clients.map((c) => c.quit()));
  for (const c of clients) c.disconnect();
}

export async function redlock4(opts) {
  const { default: Redlock } = await import('redlock4');
  const clients = clientsFor(opts);
  const redlock = new Redlock(clients, settingsFor(opts.variant));
  redlock.on('clientError', () => undefined);
  let closed = false; // set by giveUp() (the window is over) and close()
  return {
    async acquire(key, ttl) {
      const lock = await untilAcquired(() => redlock.lock(key, ttl), (e) => e?.name === 'LockError', () => closed);
      return () => lock.unlock();
    },
    giveUp() {
      closed = true;
    },
    async close() {
      closed = true;
      await closeClients(clients);
    },
  };
}

/** redlock 5 and @sesamecare-oss/redlock share one API. */
async function redlock5Like(Redlock, ExecutionError, opts) {
  const clients = clientsFor(opts);
  const redlock = new Redlock(clients, settingsFor(opts.variant));
  redlock.on('error', () => undefined);
  let closed = false; // set by giveUp() (the window is over) and close()
  const acquire = (key, ttl) =>
    untilAcquired(() => redlock.acquire([key], ttl), (e) => e instanceof ExecutionError, () => closed);
  return {
    async acquire(key, ttl) {
      const lock = await acquire(key, ttl);
      return () => lock.release();
    },
    /** Held through `using`, which extends the lock `automaticExtensionThreshold` (500 ms) before it expires. */
    hold(key, ttl) {
      return new Promise((resolve, reject) => {
        let finish;
        const held = new Promise((r) => (finish = r));
        const whole = redlock.using([key], ttl, async () => {
          resolve(async () => {
            finish();
            await whole;
          });
          await held;
        });
        whole.catch(reject);
      });
    },
    renewInterval: (ttl) => ttl - 500,
    giveUp() {
      closed = true;
    },
    async close() {
      closed = true;
      await closeClients(clients);
    },
  };
}

export async function redlock5(opts) {
  const { default: Redlock, ExecutionError } = await import('redlock5');
  return redlock5Like(Redlock, ExecutionError, opts);
}

export async function sesameRedlock(opts) {
  const { Redlock, ExecutionError } = await import('@sesamecare-oss/redlock');
  return redlock5Like(Redlock, ExecutionError, opts);
}
