import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminClient } from './helpers/redis.js';

const register = fileURLToPath(new URL('./helpers/register-ts.mjs', import.meta.url));
const worker = fileURLToPath(new URL('./fixtures/fence-worker.ts', import.meta.url));

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** Runs one worker process to completion; resolves with what it printed. */
function runWorker(args: string[]): Promise<{ pid: number; fences: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', register, worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out) as { pid: number; fences: string[] });
      else reject(new Error(`worker exited with ${code ?? signal}:\n${err}`));
    });
  });
}

it('fencing tokens strictly increase across two OS processes contending for one key', async () => {
  const key = uniqueKey();
  const logKey = `${key}:log`;
  const rounds = 50;
  const running = Promise.all([0, 1].map(() => runWorker([String(server.port), key, String(rounds), logKey])));
  running.catch(() => undefined); // awaited below; a worker failure must not go unhandled meanwhile
  // Both workers loaded the sources and connected: let them go at the same moment.
  await waitFor(async () => (await admin.llen(`${logKey}:ready`)) === 2, 30_000);
  await admin.rpush(`${logKey}:go`, 'go', 'go');
  const results = await running;

  // The log is written inside the critical section, so its order is the order of the holders.
  const log = (await admin.lrange(logKey, 0, -1)).map((entry) => {
    const [pid, fence] = entry.split(':');
    return { pid: Number(pid), fence: BigInt(fence!) };
  });
  expect(log).toHaveLength(2 * rounds);
  for (let i = 1; i < log.length; i++) expect(log[i]!.fence).toBeGreaterThan(log[i - 1]!.fence);
  // Two different processes, each with its own increasing sequence, both present in the log...
  const pids = results.map((r) => r.pid);
  expect(new Set(pids).size).toBe(2);
  expect(pids).not.toContain(process.pid);
  for (const r of results) {
    expect(r.fences).toHaveLength(rounds);
    expect(log.filter((e) => e.pid === r.pid).map((e) => e.fence.toString())).toEqual(r.fences);
  }
  // ...and they really contended: the holder changed hands between the processes many times.
  const handovers = log.filter((e, i) => i > 0 && e.pid !== log[i - 1]!.pid).length;
  expect(handovers).toBeGreaterThanOrEqual(5);
}, 60_000);
