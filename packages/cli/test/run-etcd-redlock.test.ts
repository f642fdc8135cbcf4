// `dlock run` and `dlock inspect` on etcd (EtcdMutex) and Redlock, through the built binary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEtcd, startRedisNodes, uniqueKey, type EtcdServer, type RedisServer, type ServerGroup } from '@dlock/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlock, ensureBuilt, node, start } from './helpers/dlock.js';
import { expectIncreasing, tokensOfSerialRuns } from './helpers/markers.js';

let dir: string;
beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'dlock-cli-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dlock on etcd', () => {
  let server: EtcdServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startEtcd();
    env = { DLOCK_BACKEND: `etcd://127.0.0.1:${server.port}` };
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('three `dlock run` on one key never overlap, and each command gets a larger fencing token', async () => {
    const key = uniqueKey();
    const file = join(dir, `${key}.log`);
    const runs = await Promise.all(['a', 'b', 'c'].map((id) => dlock(['run', key, '--ttl', '5s', '--', ...node('worker.mjs', file, id, '300')], env)));
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    expectIncreasing(tokensOfSerialRuns(file, 3));
  });

  it('inspect --json shows the holder and its fencing token; --wait 0 on a held key exits 75', async () => {
    const key = uniqueKey();
    const holder = start(['run', key, '--ttl', '10s', '--', ...node('holder.mjs')], env);
    const [, token] = await holder.waitFor(/ready (\d+)/);
    const inspected = await dlock(['inspect', key, '--json'], env);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ key, held: true, fencingToken: token, holder: expect.stringMatching(/^[0-9a-f]{1,16}$/) });
    const busy = await dlock(['run', key, '--wait', '0', '--', 'true'], env);
    expect(busy.code).toBe(75);
    holder.child.kill('SIGTERM');
    expect((await holder.done).code).toBe(143);
    expect(JSON.parse((await dlock(['inspect', key, '--json'], env)).stdout)).toEqual({ key, held: false });
  });

  it('an unreachable etcd exits 69', async () => {
    const dead = `etcd://127.0.0.1:${await freePort()}`;
    const run = await dlock(['run', uniqueKey(), '--unavailable-timeout', '1s', '--', 'true'], { DLOCK_BACKEND: dead });
    expect(run.code).toBe(69);
    expect(run.stderr).toMatch(/etcd/);
    expect(run.ms).toBeLessThan(20_000);
  });
});

describe('dlock on Redlock', () => {
  let nodes: ServerGroup<RedisServer>;
  let env: Record<string, string>;
  beforeAll(async () => {
    nodes = await startRedisNodes(3);
    env = { DLOCK_BACKEND: `redlock://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}` };
  });
  afterAll(async () => {
    await nodes?.stop();
  });

  it('three `dlock run` on one key never overlap, and each command gets a larger fencing token', async () => {
    const key = uniqueKey();
    const file = join(dir, `${key}.log`);
    const runs = await Promise.all(['a', 'b', 'c'].map((id) => dlock(['run', key, '--ttl', '5s', '--', ...node('worker.mjs', file, id, '300')], env)));
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    expectIncreasing(tokensOfSerialRuns(file, 3));
  });

  it('inspect --json parses while a run holds the key', async () => {
    const key = uniqueKey();
    const holder = start(['run', key, '--', ...node('holder.mjs')], env);
    const [, token] = await holder.waitFor(/ready (\d+)/);
    const inspected = await dlock(['inspect', key, '--json'], env);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ key, held: true, fencingToken: token });
    holder.child.kill('SIGTERM');
    expect((await holder.done).code).toBe(143);
  });
});
