import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, LockService, MemoryLock, MemoryLockStore } from '../src/index.js';
import { rejectUnknownOptions } from '../src/validate.js';
import { CountingLock } from './counting-lock.js';

// Plain JavaScript has no type checker: a misspelt option must fail loudly, not be ignored.

const locks: Array<{ close(): Promise<void> }> = [];
function memoryLock(): CountingLock {
  const lock = new CountingLock(new MemoryLockStore());
  locks.push(lock);
  return lock;
}
afterEach(async () => {
  await Promise.all(locks.splice(0).map((l) => l.close()));
});

/** The error `fn` throws (synchronously), or a failure when it throws nothing. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('acquire options: unknown names are rejected', () => {
  it('tryLock("k", { timeout: 100 }) rejects with InvalidOptionError suggesting waitTimeout; nothing is locked', async () => {
    const lock = memoryLock();
    const error = await lock.tryLock('k', { timeout: 100 } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toBeInstanceOf(TypeError);
    const e = error as InvalidOptionError;
    expect(e.message).toContain('did you mean "waitTimeout"');
    expect(e.message).toBe(
      'unknown option "timeout" for tryLock()/lock(): did you mean "waitTimeout"? (known options: ttl, waitTimeout, signal)',
    );
    expect(e.option).toBe('timeout');
    expect(e.received).toBe(100);
    // Rejected before any backend call: the key is free, and nobody else is kept out.
    expect(lock.acquires).toBe(0);
    expect(await lock.isLocked('k')).toBe(false);
    const handle = await lock.tryLock('k');
    expect(handle).not.toBeNull();
    await handle!.release();
  });

  it('lock() rejects the same way, instead of waiting without a limit', async () => {
    const lock = memoryLock();
    const holder = await lock.lock('k', { ttl: 60_000 });
    // With `timeout` ignored this would wait for the holder's whole lease.
    await expect(lock.lock('k', { timeout: 100 } as never)).rejects.toThrow(/did you mean "waitTimeout"\?/);
    await holder.release();
    expect(await lock.isLocked('k')).toBe(false);
  });

  it('a name close to nothing known gets no suggestion, only the list', async () => {
    const lock = memoryLock();
    await expect(lock.tryLock('k', { retries: 3 } as never)).rejects.toThrow(
      /^unknown option "retries" for tryLock\(\)\/lock\(\) \(known options: ttl, waitTimeout, signal\)$/,
    );
    expect(await lock.isLocked('k')).toBe(false);
  });

  it('accepts the known options, an unknown name set to undefined, and inherited properties', async () => {
    const lock = memoryLock();
    const signal = new AbortController().signal;
    const a = await lock.tryLock('a', { ttl: 1_000, waitTimeout: 0, signal });
    const b = await lock.lock('b', { ttl: 1_000, timeout: undefined } as never);
    const c = await lock.tryLock('c', Object.create({ timeout: 100 }) as never);
    expect([a, b, c].every((h) => h !== null)).toBe(true);
    await Promise.all([a!.release(), b.release(), c!.release()]);
  });
});

describe('rejectUnknownOptions', () => {
  const acquire = ['ttl', 'waitTimeout', 'signal'];
  const redisLock = ['defaultTtl', 'maxRetryDelay', 'clock', 'maxLocalHandOvers', 'unavailableTimeout', 'prefix', 'operationTimeout', 'fenceRetention'];

  function suggestion(name: string, known: readonly string[]): string | undefined {
    const error = thrown(() => rejectUnknownOptions({ [name]: 1 }, known, 'f()'));
    expect(error).toBeInstanceOf(InvalidOptionError);
    return /did you mean "([^"]+)"/.exec((error as Error).message)?.[1];
  }

  it('suggests the closest known name: case, typos, swapped letters, a part of the name', () => {
    expect(suggestion('timeout', acquire)).toBe('waitTimeout');
    expect(suggestion('waitTimeOut', acquire)).toBe('waitTimeout');
    expect(suggestion('TTL', acquire)).toBe('ttl');
    expect(suggestion('tlt', acquire)).toBe('ttl');
    expect(suggestion('signl', acquire)).toBe('signal');
    expect(suggestion('wait', acquire)).toBe('waitTimeout');
    // Constructor options: the nearer of two containing names, and a call option given to a constructor.
    expect(suggestion('timeout', redisLock)).toBe('operationTimeout');
    expect(suggestion('ttl', redisLock)).toBe('defaultTtl');
    expect(suggestion('prefx', redisLock)).toBe('prefix');
    expect(suggestion('retryDelay', redisLock)).toBe('maxRetryDelay');
  });

  it('suggests nothing when no known name is close', () => {
    expect(suggestion('retries', acquire)).toBeUndefined();
    expect(suggestion('ms', ['maxHandOverMs', 'handOver'])).toBeUndefined();
    expect(suggestion('x', acquire)).toBeUndefined();
  });

  it('names the call and every known option; passes objects with known names only', () => {
    expect(() => rejectUnknownOptions({ prefx: 'a' }, ['prefix', 'callTimeout'], 'new EtcdMutex()')).toThrow(
      'unknown option "prefx" for new EtcdMutex(): did you mean "prefix"? (known options: prefix, callTimeout)',
    );
    expect(() => rejectUnknownOptions({}, [], 'f()')).not.toThrow();
    expect(() => rejectUnknownOptions({ prefix: 'a', callTimeout: 5 }, ['prefix', 'callTimeout'], 'f()')).not.toThrow();
  });
});

// Needs lock-service.ts to check its own options (the lead's patch).
describe('LockService options: unknown names are rejected', () => {
  it('new LockService(lock, { ttl, autoRenewal }) and a coalesce field', () => {
    const lock = memoryLock();
    expect(() => new LockService(lock, { autoRenewal: false } as never)).toThrow(/did you mean "autoRenew"\?/);
    expect(() => new LockService(lock, { coalesce: { handover: true } } as never)).toThrow(/did you mean "handOver"\?/);
  });

  it('withLock(key, fn, { timeout }) rejects before running fn; autoRenew is accepted and not passed to lock()', async () => {
    const locks = new LockService(memoryLock());
    let ran = false;
    await expect(locks.withLock('k', () => (ran = true), { timeout: 100 } as never)).rejects.toThrow(
      /^unknown option "timeout" for withLock\(\): did you mean "waitTimeout"\?/,
    );
    await expect(locks.tryWithLock('k', () => (ran = true), { timeout: 100 } as never)).rejects.toThrow(/did you mean "waitTimeout"/);
    expect(ran).toBe(false);
    expect(await locks.isLocked('k')).toBe(false);
    expect(await locks.withLock('k', () => 'done', { autoRenew: false, ttl: 1_000, waitTimeout: 100 })).toBe('done');
  });
});
