// The servers of one bench run, started by @dlock/testkit on free 127.0.0.1 ports and stopped at
// the end: one redis (single-node rows), five independent redis (Redlock rows use the first 3 or
// all 5), one etcd, one PostgreSQL. A server that cannot start leaves its rows "skipped" with the
// reason.
import { errorText } from './measure.mjs';

/**
 * Starts what `needs` asks for ({ redis, redisNodes, etcd, postgres }). Resolves to
 * `{ env, missing, mode, stop }`: `env` is what contenders connect to (plain data, sent to child
 * processes), `missing` maps a server kind to why it is not there.
 */
export async function startServers(needs) {
  let testkit;
  try {
    testkit = await import('@dlock/testkit');
  } catch (error) {
    const why = `@dlock/testkit could not be loaded (${errorText(error)}); build it with pnpm --filter @dlock/testkit build`;
    return { env: {}, missing: { redis: why, redisNodes: why, etcd: why, postgres: why }, mode: 'none', stop: async () => {} };
  }
  const started = [];
  const env = {};
  const missing = {};
  const attempt = async (kind, start, describe) => {
    if (!needs[kind]) {
      missing[kind] = 'not needed by the selected workloads';
      return;
    }
    try {
      const server = await start();
      started.push(server);
      Object.assign(env, describe(server));
    } catch (error) {
      missing[kind] = errorText(error);
    }
  };
  await Promise.all([
    attempt('redis', () => testkit.startRedis(), (s) => ({ redisUrl: s.url })),
    attempt('redisNodes', () => testkit.startRedisNodes(5), (g) => ({ redisNodeUrls: g.map((s) => s.url) })),
    attempt('etcd', () => testkit.startEtcd(), (s) => ({ etcdEndpoint: s.endpoint })),
    attempt('postgres', () => testkit.startPostgres(), (s) => ({ postgresUrl: s.url })),
  ]);
  let mode = 'unknown';
  try {
    mode = await testkit.serverMode();
  } catch {
    // reported as unknown
  }
  let stopped;
  const stop = () => {
    stopped ??= Promise.allSettled(started.map((s) => s.stop())).then(() => testkit.stopAllServers().catch(() => undefined));
    return stopped;
  };
  return { env, missing, mode, stop };
}
