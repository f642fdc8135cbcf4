import { LockAcquireTimeoutError, LockBackendError } from '@dlock/core';
import { freePort, startEtcd, type EtcdServer } from '@dlock/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLock, EtcdMutex, type EtcdLockBase } from '../src/index.js';
import { testPrefix } from './helpers.js';

// An etcd that cannot be reached: a call fails within the lock's `callTimeout`, with a
// LockBackendError naming why, the same way for both locks. Without that bound a call made 12
// attempts: about 3 s of backoff against a refused port, 12 full deadlines against a server
// that does not answer.
const CALL_TIMEOUT = 300;
const prefix = testPrefix();
const opened: EtcdLockBase[] = [];

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
});

const kinds = [
  ['EtcdLock', (hosts: string, callTimeout: number) => open(new EtcdLock({ hosts }, { prefix, callTimeout }))],
  ['EtcdMutex', (hosts: string, callTimeout: number) => open(new EtcdMutex({ hosts }, { prefix, callTimeout }))],
] as const;

function open<T extends EtcdLockBase>(lock: T): T {
  opened.push(lock);
  return lock;
}

/** The messages of `error` and its causes, outermost first. */
function messages(error: unknown): string {
  const out: string[] = [];
  for (let e = error; e instanceof Error && out.length < 5; e = e.cause) out.push(e.message);
  return out.join(' <- ');
}

async function timed<T>(work: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const startedAt = performance.now();
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - startedAt };
}

describe.each(kinds)('%s against a port nobody listens on', (_, make) => {
  it('tryLock rejects with LockBackendError naming the refused connection, within callTimeout', async () => {
    const lock = make(`http://127.0.0.1:${await freePort()}`, CALL_TIMEOUT);
    const { error, ms } = await timed(lock.tryLock('dead', { ttl: 5_000 }));
    expect(error).toBeInstanceOf(LockBackendError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).toMatch(new RegExp(`callTimeout \\(${CALL_TIMEOUT} ms`));
    // Retries stop at callTimeout; the bound leaves room for a loaded machine. Unbounded, the
    // 12 attempts' backoff alone is at least 1.9 s.
    expect(ms).toBeLessThan(CALL_TIMEOUT + 1_200);
  });

  it('lock() with a waitTimeout fails naming the refused connection, not with a bare timeout', async () => {
    const lock = make(`http://127.0.0.1:${await freePort()}`, CALL_TIMEOUT);
    const { error, ms } = await timed(lock.lock('dead', { ttl: 5_000, waitTimeout: 1_000 }));
    // Whether lock() gives up at the first failure (LockBackendError) or retries until its
    // deadline (LockAcquireTimeoutError), the backend's failure must be in the error.
    expect(error instanceof LockBackendError || error instanceof LockAcquireTimeoutError).toBe(true);
    expect(messages(error)).toMatch(/ECONNREFUSED/);
    expect(ms).toBeLessThan(1_000 + CALL_TIMEOUT + 2_000);
  });
});

describe('against a paused etcd (connections accepted, nothing answered)', () => {
  let server: EtcdServer;
  beforeAll(async () => {
    server = await startEtcd();
  });
  afterAll(async () => {
    await server?.resume().catch(() => undefined);
    await server?.stop();
  });

  it.each(kinds)('%s: tryLock rejects with LockBackendError after callTimeout, and works once etcd answers again', async (_, make) => {
    const callTimeout = 1_000;
    const lock = make(server.endpoint, callTimeout);
    await server.pause();
    let outcome: { error: unknown; ms: number };
    try {
      outcome = await timed(lock.tryLock('paused', { ttl: 5_000 }));
    } finally {
      await server.resume();
    }
    expect(outcome.error).toBeInstanceOf(LockBackendError);
    expect((outcome.error as Error).message).toMatch(/no answer within callTimeout \(1000 ms/);
    // Unbounded, this took 12 deadlines of 1 s each (plus backoff).
    expect(outcome.ms).toBeGreaterThanOrEqual(callTimeout - 50);
    expect(outcome.ms).toBeLessThan(callTimeout + 3_000);
    const h = await lock.tryLock('paused', { ttl: 5_000 });
    expect(h).not.toBeNull();
    await h!.release();
  });
});
