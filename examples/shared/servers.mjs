// Where the example servers are (env, else docker-compose.yml's ports), and whether they answer.
// Shared by the examples (workspace package @dlock/example-shared).
import { Redis } from 'ioredis';

export const defaults = Object.freeze({
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDLOCK_URLS: 'redis://127.0.0.1:6380,redis://127.0.0.1:6381,redis://127.0.0.1:6382,redis://127.0.0.1:6383,redis://127.0.0.1:6384',
  ETCD_ENDPOINTS: 'http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379',
});

const list = (value) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Server addresses from the environment, falling back to the docker-compose ports. */
export function serverConfig(env = process.env) {
  return {
    redisUrl: env.REDIS_URL || defaults.REDIS_URL,
    redlockUrls: list(env.REDLOCK_URLS || defaults.REDLOCK_URLS),
    etcdEndpoints: list(env.ETCD_ENDPOINTS || defaults.ETCD_ENDPOINTS),
  };
}

/**
 * PING with a short connect timeout and no retries: `null` if Redis answers, else why not.
 * (A lock would find out too, but only after its client's reconnect attempts: a probe keeps the
 * "no server here" case fast.)
 */
export async function probeRedis(url, timeoutMs = 500) {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disconnectTimeout: 100, // ioredis's 2 s default would keep this process alive after a failed connect
  });
  let cause; // connect() rejects with "Connection is closed."; the 'error' event says why
  client.on('error', (error) => (cause ??= error));
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return `${redact(url)} (${(cause ?? error).code ?? (cause ?? error).message})`;
  } finally {
    client.disconnect();
  }
}

/** `null` if every node answers, else the nodes that did not. */
export async function probeRedisNodes(urls, timeoutMs = 500) {
  const failures = (await Promise.all(urls.map((url) => probeRedis(url, timeoutMs)))).filter(Boolean);
  return failures.length === 0 ? null : `${failures.length} of ${urls.length} nodes do not answer: ${failures.join(', ')}`;
}

/**
 * etcd's HTTP health endpoint (served on the client port). Returns the endpoints that answer
 * healthy, and why the others did not.
 */
export async function probeEtcd(endpoints, timeoutMs = 800) {
  const results = await Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        const res = await fetch(new URL('/health', endpoint), { signal: AbortSignal.timeout(timeoutMs) });
        const body = await res.json();
        return body.health === 'true' ? { endpoint } : { endpoint, error: `unhealthy (${JSON.stringify(body)})` };
      } catch (error) {
        return { endpoint, error: error.cause?.code ?? error.name };
      }
    }),
  );
  return {
    healthy: results.filter((r) => !r.error).map((r) => r.endpoint),
    failures: results.filter((r) => r.error).map((r) => `${r.endpoint} (${r.error})`),
  };
}

/** A URL without its password, for printing. */
export function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
