import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  freePort,
  startEtcd,
  startPostgres,
  startRedis,
  startRedisNodes,
  type EtcdServer,
  type PostgresServer,
  type RedisServer,
} from '@dlock/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const compare = fileURLToPath(new URL('../src/compare.mjs', import.meta.url));

interface Row {
  strategy: string;
  instances: number;
  duplicates: number;
  registered: number;
  total: number;
  perSecond: number;
}

/** The table rows compare.mjs prints. */
function rows(stdout: string): Map<string, Row> {
  const re = /^(\S.*?)\s{2,}(\d+)\s+(\d+)\s+(\d+)\/(\d+)\s+([\d,]+)/gm;
  return new Map(
    [...stdout.matchAll(re)].map((m) => [
      m[1]!,
      {
        strategy: m[1]!,
        instances: Number(m[2]),
        duplicates: Number(m[3]),
        registered: Number(m[4]),
        total: Number(m[5]),
        perSecond: Number(m[6]!.replaceAll(',', '')),
      },
    ]),
  );
}

/** The environment without inherited server or database settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.DATABASE_URL;
  return env;
}

const inProcessLocked = ['KeyedMutex (in-process)', 'SingleFlight (in-process)', 'MemoryLock (in-process)'];
const distributed = ['Redis lock', 'Redis lock + coalescing', 'etcd mutex', 'PostgreSQL lock', 'Redlock (3 nodes)'];

describe('device-registration compare (pnpm --filter @dlock/example-device-registration compare)', () => {
  it('with no server: runs the in-process strategies, says what it skipped and how to enable it', async () => {
    // Ports nobody listens on, so a Redis or etcd installed on this machine does not answer.
    const [a, b, c] = await Promise.all([freePort(), freePort(), freePort()]);
    const { stdout } = await run(process.execPath, [compare], {
      timeout: 30_000,
      env: cleanEnv({
        REDIS_URL: `redis://127.0.0.1:${a}`,
        REDLOCK_URLS: `redis://127.0.0.1:${b},redis://127.0.0.1:${c},redis://127.0.0.1:${a}`,
        ETCD_ENDPOINTS: `http://127.0.0.1:${c}`,
      }),
    });
    const table = rows(stdout);
    expect(table.get('no lock')!.duplicates).toBeGreaterThan(0);
    for (const name of inProcessLocked) {
      expect(table.get(name), name).toMatchObject({ duplicates: 0, registered: 120, total: 120 });
    }
    for (const name of ['Redis lock', 'Redis lock + coalescing', 'etcd mutex', 'Redlock (3 nodes)']) {
      expect(table.has(name), name).toBe(false);
      expect(stdout).toMatch(new RegExp(`^  ${name.replace(/[+()]/g, '\\$&')}: .*ECONNREFUSED`, 'm'));
    }
    expect(table.has('PostgreSQL lock')).toBe(false);
    expect(stdout).toMatch(/^  PostgreSQL lock: DATABASE_URL is not set/m);
    expect(stdout).toContain('skipped (server not reachable):');
    expect(stdout).toContain('docker compose up -d');
    expect(stdout).toContain('REDIS_URL, REDLOCK_URLS and ETCD_ENDPOINTS');
    expect(stdout).toContain('For the PostgreSQL lock: DATABASE_URL=');
  });

  describe('with Redis, 3 Redis nodes, etcd and PostgreSQL from the testkit', () => {
    let redis: RedisServer;
    let nodes: RedisServer[] & { stop(): Promise<void> };
    let etcd: EtcdServer;
    let postgres: PostgresServer;

    beforeAll(async () => {
      [redis, nodes, etcd, postgres] = await Promise.all([startRedis(), startRedisNodes(3), startEtcd(), startPostgres()]);
    });
    afterAll(async () => {
      await Promise.all([redis?.stop(), nodes?.stop(), etcd?.stop(), postgres?.stop()]);
    });

    it('every locked strategy, distributed ones included, leaves no duplicate', async () => {
      const { stdout } = await run(process.execPath, [compare], {
        timeout: 45_000,
        env: {
          ...cleanEnv({ REDIS_URL: redis.url, REDLOCK_URLS: nodes.map((n) => n.url).join(','), ETCD_ENDPOINTS: etcd.endpoint }),
          // The store and the PostgreSQL lock in one database (its table has no unique constraint).
          DATABASE_URL: postgres.url,
        },
      });
      const table = rows(stdout);
      expect(stdout).toMatch(/^store: PostgreSQL /m);
      expect(stdout).not.toContain('skipped');
      expect(table.get('no lock')!.duplicates).toBeGreaterThan(0);
      for (const name of [...inProcessLocked, ...distributed]) {
        const row = table.get(name);
        expect(row, name).toMatchObject({ duplicates: 0, registered: 120, total: 120 });
        expect(row!.perSecond, name).toBeGreaterThan(0);
      }
      for (const name of distributed) expect(table.get(name)!.instances, name).toBe(3);
    });
  });
});
