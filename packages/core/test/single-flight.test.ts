import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { SingleFlight } from '../src/local/single-flight.js';

/** A promise settled from outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('SingleFlight', () => {
  it('100 concurrent calls on one key run fn once and all get the value', async () => {
    const flights = new SingleFlight<{ id: number }>();
    const gate = deferred<void>();
    const value = { id: 7 };
    const fn = vi.fn(async () => {
      await gate.promise;
      return value;
    });
    const calls = Array.from({ length: 100 }, () => flights.do('user:7', fn));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(flights.size).toBe(1);
    gate.resolve();
    const results = await Promise.all(calls);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(results).toHaveLength(100);
    for (const result of results) expect(result).toBe(value);
    expect(flights.size).toBe(0);
  });

  it('different keys run separately', async () => {
    const flights = new SingleFlight<string>();
    const fn = vi.fn(async (k: string) => {
      await ticks(2);
      return k.toUpperCase();
    });
    const [a, b] = await Promise.all([flights.do('a', () => fn('a')), flights.do('b', () => fn('b'))]);
    expect([a, b]).toEqual(['A', 'B']);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(flights.size).toBe(0);
  });

  it('shares an error with every caller and removes the entry', async () => {
    const flights = new SingleFlight<number>();
    const error = new Error('db down');
    const gate = deferred<void>();
    const fn = vi.fn(async () => {
      await gate.promise;
      throw error;
    });
    const calls = Array.from({ length: 10 }, () => flights.do('k', fn).catch((e: unknown) => e));
    gate.resolve();
    const errors = await Promise.all(calls);
    expect(fn).toHaveBeenCalledTimes(1);
    for (const e of errors) expect(e).toBe(error);
    expect(flights.size).toBe(0);
  });

  it('a synchronous throw of fn becomes a rejected promise shared by all callers', async () => {
    const flights = new SingleFlight<number>();
    const error = new Error('sync');
    const fn = vi.fn((): number => {
      throw error;
    });
    let first: Promise<number> | undefined;
    expect(() => {
      first = flights.do('k', fn);
    }).not.toThrow();
    // Joins before the rejection is observed: same flight, same error, fn not called again.
    const second = flights.do('k', () => 2);
    await expect(first).rejects.toBe(error);
    await expect(second).rejects.toBe(error);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(flights.size).toBe(0);
  });

  it('runs fn again after the previous call settled (no caching)', async () => {
    const flights = new SingleFlight<number>();
    let n = 0;
    const fn = vi.fn(async () => ++n);
    await expect(flights.do('k', fn)).resolves.toBe(1);
    expect(flights.size).toBe(0);
    await expect(flights.do('k', fn)).resolves.toBe(2);
    expect(fn).toHaveBeenCalledTimes(2);
    // Also after an error.
    await expect(
      flights.do('k', () => {
        throw new Error('x');
      }),
    ).rejects.toThrow('x');
    await expect(flights.do('k', fn)).resolves.toBe(3);
    expect(flights.size).toBe(0);
  });

  it('forget() then do() starts a new flight; the old flight settling does not delete the new one', async () => {
    const flights = new SingleFlight<string>();
    const oldGate = deferred<string>();
    const newGate = deferred<string>();
    const oldFn = vi.fn(() => oldGate.promise);
    const newFn = vi.fn(() => newGate.promise);

    const oldCall = flights.do('k', oldFn);
    const oldJoiner = flights.do('k', () => 'never');
    flights.forget('k');
    expect(flights.size).toBe(0);
    const newCall = flights.do('k', newFn);
    expect(oldFn).toHaveBeenCalledTimes(1);
    expect(newFn).toHaveBeenCalledTimes(1);
    expect(flights.size).toBe(1);

    oldGate.resolve('old');
    await expect(oldCall).resolves.toBe('old');
    await expect(oldJoiner).resolves.toBe('old');
    // The new flight is still registered: a call now joins it instead of running fn.
    expect(flights.size).toBe(1);
    const thirdFn = vi.fn(() => 'third');
    const joiner = flights.do('k', thirdFn);
    expect(thirdFn).not.toHaveBeenCalled();

    newGate.resolve('new');
    await expect(newCall).resolves.toBe('new');
    await expect(joiner).resolves.toBe('new');
    expect(flights.size).toBe(0);
  });

  it('forget() of an unknown key is a no-op', () => {
    const flights = new SingleFlight();
    expect(() => flights.forget('nothing')).not.toThrow();
    expect(flights.size).toBe(0);
  });

  it('doShared() reports whether the result went to more than one caller', async () => {
    const flights = new SingleFlight<number>();
    await expect(flights.doShared('solo', () => 1)).resolves.toEqual({ value: 1, shared: false });

    const gate = deferred<number>();
    const fn = vi.fn(() => gate.promise);
    const leader = flights.doShared('k', fn);
    const follower = flights.doShared('k', fn);
    const plain = flights.do('k', fn);
    gate.resolve(5);
    await expect(leader).resolves.toEqual({ value: 5, shared: true });
    await expect(follower).resolves.toEqual({ value: 5, shared: true });
    await expect(plain).resolves.toBe(5);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(flights.size).toBe(0);
  });

  it('doShared() passes a shared error through unchanged', async () => {
    const flights = new SingleFlight<number>();
    const error = new Error('nope');
    const a = flights.doShared('k', async () => {
      await ticks(1);
      throw error;
    });
    const b = flights.doShared('k', () => 0);
    await expect(a).rejects.toBe(error);
    await expect(b).rejects.toBe(error);
    expect(flights.size).toBe(0);
  });

  it('a call for the same key from inside fn joins the running flight', async () => {
    const flights = new SingleFlight<number>();
    let inner: Promise<number> | undefined;
    const fn = vi.fn(async () => {
      inner = flights.do('k', () => 99);
      await ticks(1);
      return 1;
    });
    await expect(flights.do('k', fn)).resolves.toBe(1);
    await expect(inner).resolves.toBe(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(flights.size).toBe(0);
  });

  it('rejects bad input through the promise, forget() throws synchronously', async () => {
    const flights = new SingleFlight();
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = flights.do('', () => 1);
    }).not.toThrow();
    await expect(result).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'key', received: '' });
    await expect(flights.do(5 as never, () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(flights.do('k', 'not a function' as never)).rejects.toMatchObject({ option: 'fn' });
    await expect(flights.doShared('', () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(() => flights.forget('')).toThrow(InvalidOptionError);
    expect(flights.size).toBe(0);
  });
});
