import { describe, expect, it } from 'vitest';
import { RedisTimeoutError, SharedTimeout } from '../src/timeout.js';

const never = new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('SharedTimeout', () => {
  it('rejects each stalled call at its own deadline, passes answers through, and ignores late ones', async () => {
    const shared = new SharedTimeout(100);
    const started = performance.now();
    const first = shared.bound(never, 'acquire');
    await after(50, null);
    const second = shared.bound(never, 'release');
    const answered = shared.bound(after(10, 'OK'), 'renew');
    const late = shared.bound(after(300, 'late'), 'inspect');
    expect(await answered).toBe('OK');
    await expect(first).rejects.toBeInstanceOf(RedisTimeoutError);
    const firstAt = performance.now() - started;
    await expect(second).rejects.toThrow('redis release got no reply within 100 ms');
    const secondAt = performance.now() - started;
    await expect(late).rejects.toMatchObject({ operation: 'inspect', timeoutMs: 100 });
    // Each at its own deadline: ~100 ms and ~150 ms after the start, not both at the first.
    expect(firstAt).toBeGreaterThanOrEqual(95);
    expect(firstAt).toBeLessThan(140);
    expect(secondAt).toBeGreaterThanOrEqual(145);
  });

  it('passes a rejection through unchanged', async () => {
    const shared = new SharedTimeout(1_000);
    const failure = new Error('ECONNRESET');
    await expect(shared.bound(Promise.reject(failure), 'acquire')).rejects.toBe(failure);
  });
});
