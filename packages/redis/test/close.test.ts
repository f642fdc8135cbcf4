import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LockClosedError } from '@dlock/core';
import { startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock } from '../src/index.js';
import { adminClient } from './helpers/redis.js';

// close() ends everything a lock opened; `await using` calls it at the end of the block. A lock
// that is not closed keeps its connections, and with them the process, alive.

const register = fileURLToPath(new URL('./helpers/register-ts.mjs', import.meta.url));
const worker = fileURLToPath(new URL('./fixtures/exit-worker.ts', import.meta.url));

/** How soon after its last line a child must have exited (it normally takes a few ms). */
const EXIT_BOUND = 5_000;

let server: RedisServer;
let admin: Redis;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  admin?.disconnect();
  await server?.stop();
});

describe('await using', () => {
  it('closes the lock at the end of the block: held locks released, later calls rejected', async () => {
    const key = uniqueKey();
    let used: RedisLock | undefined;
    {
      await using lock = new RedisLock(server.url);
      used = lock;
      expect(await lock.tryLock(key, { ttl: 60_000 })).not.toBeNull();
      expect(lock.closed).toBe(false);
    }
    expect(used.closed).toBe(true);
    await expect(used.tryLock(key)).rejects.toBeInstanceOf(LockClosedError);
    // close() released the 60 s lock rather than leaving it to expire, and quit the client it created.
    expect(await admin.exists(used.keysFor(key).lock)).toBe(0);
    await waitFor(() => used.client.status === 'end', 5_000);
  });

  it('closes the lock when the block throws', async () => {
    let used: RedisLock | undefined;
    const run = async () => {
      await using lock = new RedisLock(server.url);
      used = lock;
      await lock.tryLock(uniqueKey());
      throw new Error('work failed');
    };
    await expect(run()).rejects.toThrow('work failed');
    expect(used!.closed).toBe(true);
    await expect(used!.inspect(uniqueKey())).rejects.toBeInstanceOf(LockClosedError);
  });
});

/** A running exit-worker: `printed` resolves at its last line, `exited` when the process ends. */
interface Child {
  process: ChildProcess;
  printed: Promise<number>;
  exited: Promise<{ at: number; code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startChild(mode: string, key: string): Child {
  const child = spawn(process.execPath, ['--import', register, worker, server.url, key, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const printed = new Promise<number>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (/^(closed|done)$/m.test(stdout)) resolve(performance.now());
    });
  });
  const exited = new Promise<{ at: number; code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ at: performance.now(), code, signal, stderr }));
  });
  // A child that hangs must not outlive the test run.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(guard));
  return { process: child, printed, exited };
}

describe('a process using RedisLock', () => {
  for (const mode of ['close', 'await-using', 'user-client']) {
    it(`exits by itself after its lock is closed (${mode})`, async () => {
      const key = uniqueKey();
      const child = startChild(mode, key);
      const exit = await child.exited;
      expect(exit.stderr).toBe('');
      expect(exit.code).toBe(0);
      // Printed its last line, then ended with nothing left to wait for.
      const printedAt = await child.printed;
      expect(exit.at - printedAt).toBeLessThan(EXIT_BOUND);
      expect(await admin.exists(`dlock:{${key}}`)).toBe(0);
    }, 60_000);
  }

  it('stays alive while a lock is open: the control that shows the check above can fail', async () => {
    const before = await clientCount();
    const child = startChild('no-close', uniqueKey());
    const raced = await Promise.race([child.printed.then(() => 'printed'), child.exited.then(() => 'exited')]);
    expect(raced).toBe('printed');
    // Well past EXIT_BOUND after its last line, the process still runs on its open connections:
    // the command connection and the subscriber.
    await sleep(EXIT_BOUND + 1_000);
    expect(child.process.exitCode).toBeNull();
    await waitFor(async () => (await clientCount()) >= before + 2, 5_000);
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
  }, 60_000);
});

/** Connections the server has right now. */
async function clientCount(): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter((line) => line.trim() !== '').length;
}
