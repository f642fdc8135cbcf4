import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, startEtcd, startRedis, type EtcdServer, type RedisServer } from '@dlock/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.mjs', import.meta.url));

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.DATABASE_URL;
  return env;
}

/** The stale-holder section of one backend. */
function section(stdout: string, backend: string): string {
  const start = stdout.indexOf(`stale holder on ${backend} `);
  expect(start, `section for ${backend}`).toBeGreaterThanOrEqual(0);
  const end = stdout.indexOf('\nstale holder on ', start + 1);
  return stdout.slice(start, end === -1 ? undefined : end);
}

/** A's and B's fencing tokens and the row counts of their UPDATEs. */
function staleHolder(text: string) {
  const a = /A holds \S+, fencing token (\d+)/.exec(text);
  const b = /B holds \S+ after \d+ ms, fencing token (\d+);.*-> (\d) row/.exec(text);
  const aWrite = /A wakes and writes: UPDATE accounts SET balance = \d+, fence = (\d+) .* -> (\d) row/.exec(text);
  expect(a && b && aWrite, text).toBeTruthy();
  return { aToken: BigInt(a![1]!), bToken: BigInt(b![1]!), bRows: Number(b![2]), aFence: BigInt(aWrite![1]!), aRows: Number(aWrite![2]) };
}

describe('lock-manager example (pnpm --filter @dlock/example-lock-manager start)', () => {
  let redis: RedisServer;
  let etcd: EtcdServer;

  beforeAll(async () => {
    [redis, etcd] = await Promise.all([startRedis(), startEtcd()]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), etcd?.stop()]);
  });

  it('registers memory, redis and etcd, routes each operation to its backend, and the table refuses every stale write', async () => {
    const { stdout } = await run(process.execPath, [main], {
      timeout: 40_000,
      env: cleanEnv({ REDIS_URL: redis.url, ETCD_ENDPOINTS: etcd.endpoint }),
    });
    expect(stdout).toContain('backends: memory (default), redis, etcd');
    expect(stdout).toMatch(/^ {2}rebuild-cache {2}-> memory$/m);
    expect(stdout).toMatch(/^ {2}send-digest {4}-> redis$/m);
    expect(stdout).toMatch(/^ {2}post-payment {3}-> etcd$/m);
    expect(stdout).toMatch(/send-digest: .*caller \d sent it, the other 2 skipped/);
    expect(stdout).toMatch(/post-payment: .* balance 200, .*all accepted/);
    for (const backend of ['memory', 'redis', 'etcd']) {
      const text = section(stdout, backend);
      const r = staleHolder(text);
      expect(r.bToken, backend).toBeGreaterThan(r.aToken);
      expect(r.aFence, backend).toBe(r.aToken);
      expect(r.bRows, backend).toBe(1);
      expect(r.aRows, backend).toBe(0);
      expect(text).toContain("A's withLock rejects with LockLostError");
      expect(text).toContain('balance 110');
    }
    expect(stdout).toContain('OK: on memory, redis, etcd');
  });

  it('without servers: registers memory only and says where the other operations went', async () => {
    const [a, b] = await Promise.all([freePort(), freePort()]);
    const { stdout } = await run(process.execPath, [main], {
      timeout: 20_000,
      env: cleanEnv({ REDIS_URL: `redis://127.0.0.1:${a}`, ETCD_ENDPOINTS: `http://127.0.0.1:${b}` }),
    });
    expect(stdout).toContain('backends: memory (default)\n');
    expect(stdout).toMatch(/not registered: redis \(no Redis at .*ECONNREFUSED/);
    expect(stdout).toMatch(/not registered: etcd \(no etcd at .*ECONNREFUSED/);
    expect(stdout).toMatch(/post-payment {3}-> memory \(no "etcd" registered: fell back to the default\)/);
    const r = staleHolder(section(stdout, 'memory'));
    expect(r.aRows).toBe(0);
    expect(stdout).not.toContain('stale holder on redis');
  });
});
