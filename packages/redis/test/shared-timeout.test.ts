import { describe, expect, it } from 'vitest';
import { RedisTimeoutError, SharedTimeout } from '../src/timeout.js';

const never = new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('SharedTimeout', () => {
  it('rejects each stalled call at its own deadline, passes answers through, and ignores late ones', async () => {
    // Deadlines 200 ms apart, so that a timer firing late on a loaded machine does not merge them.
    const shared = new SharedTimeout(400);
    const started = performance.now();
    const first = shared.bound(never, 'acquire');
    await after(200, null);
    const secondFrom = performance.now() - started;
    const second = shared.bound(never, 'release');
    const answered = shared.bound(after(10, 'OK'), 'renew');
    const late = shared.bound(after(1_200, 'late'), 'inspect');
    expect(await answered).toBe('OK');
    await expect(first).rejects.toBeInstanceOf(RedisTimeoutError);
    const firstAt = performance.now() - started;
    await expect(second).rejects.toThrow('redis release got no reply within 400 ms');
    const secondAt = performance.now() - started;
    await expect(late).rejects.toMatchObject({ operation: 'inspect', timeoutMs: 400 });
    // Each at its own deadline: ~400 ms and ~600 ms after the start, not both at the first.
    expect(firstAt).toBeGreaterThanOrEqual(395);
    expect(firstAt).toBeLessThan(secondFrom + 400);
    expect(secondAt).toBeGreaterThanOrEqual(secondFrom + 395);
  });

  it('passes a rejection through unchanged', async () => {
    const shared = new SharedTimeout(1_000);
    const failure = new Error('ECONNRESET');
    await expect(shared.bound(Promise.reject(failure), 'acquire')).rejects.toBe(failure);
  });
});
