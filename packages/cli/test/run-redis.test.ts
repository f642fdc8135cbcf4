// `dlock run` and `dlock inspect` against a real redis-server, through the built binary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisLockKeys } from '@dlock/redis/protocol';
import { freePort, startRedis, uniqueKey, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlock, ensureBuilt, node, start } from './helpers/dlock.js';
import { expectIncreasing, tokensOfSerialRuns } from './helpers/markers.js';

describe('dlock on Redis', () => {
  let server: RedisServer;
  let client: Redis;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    await ensureBuilt();
    server = await startRedis();
    client = new Redis(server.url);
    dir = mkdtempSync(join(tmpdir(), 'dlock-cli-'));
    env = { DLOCK_BACKEND: server.url };
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('three `dlock run` on one key never overlap, and each command gets a larger fencing token', async () => {
    const key = uniqueKey();
    const file = join(dir, `${key}.log`);
    const runs = await Promise.all(['a', 'b', 'c'].map((id) => dlock(['run', key, '--ttl', '5s', '--', ...node('worker.mjs', file, id, '300')], env)));
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    expectIncreasing(tokensOfSerialRuns(file, 3));
  });

  it("exits with the command's code, or 128 + the signal that killed it", async () => {
    const key = uniqueKey();
    expect((await dlock(['run', key, '--', process.execPath, '-e', 'process.exit(7)'], env)).code).toBe(7);
    expect((await dlock(['run', key, '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")'], env)).code).toBe(128 + 9);
    const missing = await dlock(['run', key, '--', 'dlock-no-such-command'], env);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/cannot run "dlock-no-such-command": command not found/);
    // After all of that the key is free again.
    expect(await client.exists(redisLockKeys('dlock', key).lock)).toBe(0);
  });

  it('--wait gives up with exit 75 while another run holds the key; SIGTERM reaches the holder; inspect --json shows it', async () => {
    const key = uniqueKey();
    const holder = start(['run', key, '--ttl', '10s', '--fence-env', 'MY_FENCE', '--', ...node('holder.mjs', 'exit3', 'MY_FENCE')], env);
    const [, token] = await holder.waitFor(/ready (\d+)/);

    const inspected = await dlock(['inspect', key, '--json'], env);
    expect(inspected.code, inspected.stderr).toBe(0);
    const info = JSON.parse(inspected.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ key, held: true, fencingToken: token });
    expect(info['holder']).toMatch(/^[0-9a-f]{8}$/);
    expect(info['ttlRemaining']).toBeGreaterThan(0);
    expect(info['ttlRemaining']).toBeLessThanOrEqual(10_000);

    const busy = await dlock(['run', key, '--wait', '300', '--', process.execPath, '-e', 'console.log("ran")'], env);
    expect(busy.code).toBe(75);
    expect(busy.stdout).toBe('');
    expect(busy.stderr).toMatch(new RegExp(`could not acquire lock "${key}".* within 300 ms`));
    expect(busy.ms).toBeGreaterThanOrEqual(300);
    const once = await dlock(['run', key, '--wait', '0', '--', process.execPath, '-e', 'console.log("ran")'], env);
    expect(once.code).toBe(75);

    holder.child.kill('SIGTERM');
    const finished = await holder.done;
    expect(finished.stdout).toMatch(/got SIGTERM/);
    expect(finished.code).toBe(3); // the command's own answer to the forwarded signal
    const free = await dlock(['inspect', key, '--json'], env);
    expect(JSON.parse(free.stdout)).toEqual({ key, held: false });
    const text = await dlock(['inspect', key], env);
    expect(text.stdout).toBe(`lock "${key}" is free\n`);
  });

  it('a signal while waiting for the lock stops the wait: nothing runs, exit 128 + N', async () => {
    const key = uniqueKey();
    const holder = start(['run', key, '--', ...node('holder.mjs')], env);
    await holder.waitFor(/ready/);
    const waiter = start(['run', key, '--verbose', '--', process.execPath, '-e', 'console.log("ran")'], env);
    await waiter.waitFor(/acquiring lock .* \(waiting as long as it takes\)/, 20_000, 'stderr');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the lock request is on its way
    waiter.child.kill('SIGINT');
    const waited = await waiter.done;
    expect(waited.code).toBe(130);
    expect(waited.stdout).toBe('');
    expect(waited.stderr).toMatch(/interrupted by SIGINT while waiting for lock/);
    holder.child.kill('SIGTERM');
    expect((await holder.done).code).toBe(128 + 15);
  });

  it('a lost lock (its key deleted) stops the command with SIGTERM and exits 76', async () => {
    const key = uniqueKey();
    const run = start(['run', key, '--ttl', '1500', '--', ...node('holder.mjs', 'exit3')], env);
    await run.waitFor(/ready/);
    await client.del(redisLockKeys('dlock', key).lock);
    const deletedAt = performance.now();
    const finished = await run.done;
    expect(finished.code).toBe(76);
    expect(finished.stdout).toMatch(/got SIGTERM/);
    expect(finished.stderr).toMatch(new RegExp(`lock "${key}" .*was lost`));
    expect(finished.stderr).toMatch(/the command was stopped because lock .* was lost \(it exited with code 3\)/);
    // Noticed at the next renewal (every ttl/3 = 500 ms); generous for a loaded machine.
    expect(performance.now() - deletedAt).toBeLessThan(10_000);
  });

  it('a command that ignores SIGTERM is killed after --grace', async () => {
    const key = uniqueKey();
    const run = start(['run', key, '--ttl', '1500', '--grace', '1500', '--', ...node('holder.mjs', 'ignore')], env);
    await run.waitFor(/ready/);
    await client.del(redisLockKeys('dlock', key).lock);
    await run.waitFor(/got SIGTERM/);
    const termAt = performance.now();
    const finished = await run.done;
    expect(finished.code).toBe(76);
    expect(finished.stderr).toMatch(/SIGKILL after 1500 ms/);
    expect(finished.stderr).toMatch(/\(it was killed by SIGKILL\)/);
    // Not before the grace period (less a margin: the SIGTERM was seen here after it was sent).
    expect(performance.now() - termAt).toBeGreaterThanOrEqual(800);
  });

  it('a lost lock (the server paused past the TTL) stops the command and exits 76', async () => {
    const paused = await startRedis();
    try {
      const key = uniqueKey();
      const run = start(['run', key, '--ttl', '1000', '--', ...node('holder.mjs', 'exit3')], { DLOCK_BACKEND: paused.url });
      await run.waitFor(/ready/);
      await paused.pause();
      const finished = await run.done;
      await paused.resume();
      expect(finished.code).toBe(76);
      expect(finished.stdout).toMatch(/got SIGTERM/);
      expect(finished.stderr).toMatch(new RegExp(`lock "${key}" .*was lost`));
    } finally {
      await paused.resume().catch(() => {});
      await paused.stop();
    }
  });

  it('an unreachable server: exit 69 within --unavailable-timeout (or --wait), naming the failure', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const waited = await dlock(['run', uniqueKey(), '--unavailable-timeout', '1s', '--', process.execPath, '-e', 'console.log("ran")'], { DLOCK_BACKEND: dead });
    expect(waited.code).toBe(69);
    expect(waited.stdout).toBe('');
    expect(waited.stderr).toMatch(/ECONNREFUSED/);
    expect(waited.ms).toBeLessThan(15_000);
    const bounded = await dlock(['run', uniqueKey(), '--wait', '1s', '--', 'true'], { DLOCK_BACKEND: dead });
    expect(bounded.code).toBe(69);
    expect(bounded.stderr).toMatch(/ECONNREFUSED/);
    expect(bounded.ms).toBeLessThan(15_000);
    const inspected = await dlock(['inspect', uniqueKey(), '--backend', dead]);
    expect(inspected.code).toBe(69);
    expect(inspected.ms).toBeLessThan(15_000);
  });

  it('--prefix separates namespaces', async () => {
    const key = uniqueKey();
    const holder = start(['run', key, '--prefix', 'team-a', '--', ...node('holder.mjs')], env);
    await holder.waitFor(/ready/);
    expect(await client.exists(redisLockKeys('team-a', key).lock)).toBe(1);
    const other = await dlock(['run', key, '--prefix', 'team-b', '--wait', '0', '--', 'true'], env);
    expect(other.code).toBe(0);
    const same = await dlock(['run', key, '--wait', '0', '--', 'true'], { ...env, DLOCK_PREFIX: 'team-a' });
    expect(same.code).toBe(75);
    holder.child.kill('SIGTERM');
    await holder.done;
  });
});
