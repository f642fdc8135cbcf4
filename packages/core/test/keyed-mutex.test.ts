import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError, LockAcquireTimeoutError } from '../src/errors.js';
import { KeyedMutex } from '../src/local/keyed-mutex.js';

/** Lets `n` rounds of microtasks run. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** A random pause: mostly a few microtasks, sometimes a macrotask, rarely a 1 ms timer. */
async function randomPause(): Promise<void> {
  const roll = Math.random();
  if (roll < 0.02) await new Promise((r) => setTimeout(r, 1));
  else if (roll < 0.1) await new Promise((r) => setImmediate(r));
  else await ticks(Math.floor(Math.random() * 5));
}

/** Whether `promise` has settled after letting pending microtasks run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await ticks(5);
  return settled;
}

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('KeyedMutex: mutual exclusion under load', () => {
  it('15 keys x 1000 tasks: never two inside one key, every increment kept, no entries left', async () => {
    const mutex = new KeyedMutex();
    const keys = Array.from({ length: 15 }, (_, i) => `stress:${i}`);
    const counters = new Map(keys.map((k) => [k, 0]));
    const inside = new Map(keys.map((k) => [k, 0]));
    let maxInside = 0;

    const task = async (key: string): Promise<void> => {
      const release = await mutex.acquire(key);
      try {
        const now = (inside.get(key) ?? 0) + 1;
        inside.set(key, now);
        maxInside = Math.max(maxInside, now);
        const read = counters.get(key) ?? 0; // read ...
        await randomPause(); // ... yield with the value in hand ...
        counters.set(key, read + 1); // ... write: lost updates if two are inside
        await randomPause();
        inside.set(key, (inside.get(key) ?? 0) - 1);
      } finally {
        release();
      }
    };

    const started = performance.now();
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) for (const key of keys) tasks.push(task(key));
    expect(mutex.size).toBe(15);
    expect(mutex.waiting('stress:0')).toBe(999);
    await Promise.all(tasks);

    expect(maxInside).toBe(1);
    for (const key of keys) expect(counters.get(key)).toBe(1000);
    expect(mutex.size).toBe(0);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('run() under load: same guarantees through the convenience API', async () => {
    const mutex = new KeyedMutex();
    const keys = ['a', 'b', 'c'];
    const counters = new Map(keys.map((k) => [k, 0]));
    const inside = new Map(keys.map((k) => [k, 0]));
    let violations = 0;
    const runs = [];
    for (let i = 0; i < 300; i++) {
      for (const key of keys) {
        runs.push(
          mutex.run(key, async () => {
            inside.set(key, (inside.get(key) ?? 0) + 1);
            if ((inside.get(key) ?? 0) > 1) violations++;
            const read = counters.get(key) ?? 0;
            await randomPause();
            counters.set(key, read + 1);
            inside.set(key, (inside.get(key) ?? 0) - 1);
            return read;
          }),
        );
      }
    }
    const results = await Promise.all(runs);
    expect(violations).toBe(0);
    for (const key of keys) expect(counters.get(key)).toBe(300);
    // FIFO: the i-th run on a key saw exactly i earlier increments.
    expect(results.filter((_, i) => i % 3 === 0)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(mutex.size).toBe(0);
  });
});

describe('KeyedMutex: ABA regression (late waiter meets the last release)', () => {
  it('late waiters and newcomers arriving around the last release never make two holders', async () => {
    const mutex = new KeyedMutex();
    const holders = new Map<string, number>();
    let maxHolders = 0;
    let sections = 0;
    const paths = { recreated: 0, queuedBehindNewcomer: 0, handedOff: 0, staleRelease: 0 };

    const enter = (key: string): void => {
      const now = (holders.get(key) ?? 0) + 1;
      holders.set(key, now);
      maxHolders = Math.max(maxHolders, now);
    };
    const leave = (key: string): void => {
      holders.set(key, (holders.get(key) ?? 0) - 1);
      sections++;
    };
    /** A critical section on `key` entered through `acquired`. */
    const section = async (key: string, acquired: Promise<() => void>): Promise<void> => {
      const release = await acquired;
      enter(key);
      await randomPause();
      leave(key);
      release();
    };

    // The Go interleaving: G1 drops the last reference (its entry is about to be deleted) exactly
    // when G2, which already saw that entry, comes to lock it, and G3 then creates a fresh entry.
    // In Go, G2 and G3 end up holding different mutexes for one key. Here each arrival is tried
    // in every order around the holder's release, with random timings and 0-2 other waiters.
    const scenario = async (key: string): Promise<void> => {
      const release = await mutex.acquire(key);
      enter(key);
      const others: Promise<void>[] = [];
      const waiters = Math.floor(Math.random() * 3);
      for (let i = 0; i < waiters; i++) {
        others.push((async () => (await randomPause(), section(key, mutex.acquire(key))))());
      }
      await randomPause();
      leave(key);

      const late = (): void => void others.push(section(key, mutex.acquire(key)));
      const newcomer = (): void => {
        const taken = mutex.tryAcquire(key);
        if (taken !== null) others.push(section(key, Promise.resolve(taken)));
      };
      const order = Math.floor(Math.random() * 4);
      if (order === 0) {
        const idle = mutex.waiting(key) === 0;
        release(); // last release: the entry is deleted ...
        newcomer(); // ... a newcomer creates a fresh one ...
        late(); // ... and the late waiter must queue behind it, not lock the deleted entry
        if (idle) {
          paths.recreated++;
          expect(mutex.waiting(key)).toBe(1);
        }
      } else if (order === 1) {
        release();
        late(); // the late waiter arrives in the very same step as the release ...
        newcomer(); // ... and a newcomer must then find the key held
        paths.queuedBehindNewcomer++;
      } else if (order === 2) {
        late(); // the late waiter queues just before the release ...
        release(); // ... which must hand it the key rather than delete the entry
        expect(mutex.isLocked(key)).toBe(true);
        paths.handedOff++;
        newcomer();
      } else {
        others.push(Promise.resolve().then(late)); // arrives one microtask after the release
        release();
        release(); // stale second call: must not free whoever holds the key next
        newcomer();
        paths.staleRelease++;
      }
      await Promise.all(others);
      // Sections pushed while awaiting (by `.then(late)`) are awaited too.
      await Promise.all(others);
      expect(mutex.isLocked(key)).toBe(false);
    };

    const keys = Array.from({ length: 8 }, (_, i) => `aba:${i}`);
    await Promise.all(
      keys.map(async (key) => {
        for (let round = 0; round < 250; round++) await scenario(key);
      }),
    );

    expect(maxHolders).toBe(1);
    for (const key of keys) expect(holders.get(key)).toBe(0);
    expect(sections).toBeGreaterThanOrEqual(8 * 250 * 2);
    // Every interleaving was exercised, the delete-then-recreate one included.
    for (const count of Object.values(paths)) expect(count).toBeGreaterThan(0);
    expect(mutex.size).toBe(0);
  });

  it('a stale release of a deleted entry does not free the recreated entry', () => {
    const mutex = new KeyedMutex();
    const first = mutex.tryAcquire('k');
    expect(first).not.toBeNull();
    first?.(); // entry deleted
    expect(mutex.size).toBe(0);
    const second = mutex.tryAcquire('k'); // entry recreated for a new holder
    expect(second).not.toBeNull();
    first?.(); // the old holder releases again (Go: CompareAndDelete of the new wrapper)
    expect(mutex.isLocked('k')).toBe(true);
    expect(mutex.tryAcquire('k')).toBeNull();
    second?.();
    expect(mutex.size).toBe(0);
  });

  it('an abort racing with the hand-off: the woken waiter owns the key, nobody else does', async () => {
    const mutex = new KeyedMutex();
    const release1 = await mutex.acquire('k');
    const controller = new AbortController();
    const waiter = mutex.acquire('k', { signal: controller.signal });
    const third = mutex.acquire('k');
    release1(); // key handed to `waiter` ...
    controller.abort(new Error('too late')); // ... and its signal aborts in the same step
    const release2 = await waiter; // resolves: it was already the owner
    expect(mutex.isLocked('k')).toBe(true);
    expect(await isSettled(third)).toBe(false);
    expect(abortListeners(controller.signal)).toBe(0);
    release2();
    const release3 = await third;
    release3();
    expect(mutex.size).toBe(0);
  });
});

describe('KeyedMutex: acquire', () => {
  it('serves waiters in FIFO order', async () => {
    const mutex = new KeyedMutex();
    const order: number[] = [];
    const release0 = await mutex.acquire('fifo');
    const waiters = [1, 2, 3, 4, 5].map((n) =>
      mutex.acquire('fifo').then((release) => {
        order.push(n);
        return release;
      }),
    );
    expect(mutex.waiting('fifo')).toBe(5);
    release0();
    for (const waiter of waiters) (await waiter)();
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(mutex.size).toBe(0);
  });

  it('hands off directly: the key stays held between holders, nobody barges in', async () => {
    const mutex = new KeyedMutex();
    const release1 = await mutex.acquire('k');
    const waiter = mutex.acquire('k');
    release1();
    // The waiter has not resumed yet, but the key is already its own.
    expect(mutex.isLocked('k')).toBe(true);
    expect(mutex.waiting('k')).toBe(0);
    expect(mutex.tryAcquire('k')).toBeNull();
    const release2 = await waiter;
    expect(mutex.isLocked('k')).toBe(true);
    release2();
    expect(mutex.isLocked('k')).toBe(false);
  });

  it('keys are independent', async () => {
    const mutex = new KeyedMutex();
    const a = await mutex.acquire('a');
    const b = await mutex.acquire('b');
    expect(mutex.size).toBe(2);
    expect(mutex.isLocked('a') && mutex.isLocked('b')).toBe(true);
    a();
    expect(mutex.isLocked('a')).toBe(false);
    expect(mutex.isLocked('b')).toBe(true);
    b();
    expect(mutex.size).toBe(0);
  });

  it('double release is a no-op: it does not release the next holder', async () => {
    const mutex = new KeyedMutex();
    const release1 = await mutex.acquire('k');
    const second = mutex.acquire('k');
    const third = mutex.acquire('k');
    release1();
    const release2 = await second;
    release1(); // stale call
    expect(mutex.isLocked('k')).toBe(true);
    expect(mutex.waiting('k')).toBe(1);
    expect(await isSettled(third)).toBe(false);
    release2();
    release2(); // stale call while `third` holds the key
    const release3 = await third;
    expect(mutex.isLocked('k')).toBe(true);
    expect(mutex.tryAcquire('k')).toBeNull();
    release3();
    expect(mutex.size).toBe(0);
  });
});

describe('KeyedMutex: abort', () => {
  it('an already aborted signal rejects with its reason without taking a free key', async () => {
    const mutex = new KeyedMutex();
    const reason = new Error('cancelled');
    await expect(mutex.acquire('k', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(mutex.isLocked('k')).toBe(false);
    expect(mutex.size).toBe(0);
  });

  it('an already aborted signal rejects without joining the queue of a held key', async () => {
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k');
    const reason = { custom: true };
    await expect(mutex.acquire('k', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(mutex.waiting('k')).toBe(0);
    release();
    expect(mutex.size).toBe(0);
  });

  it('aborting while waiting rejects with the reason and leaves the queue without a trace', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const release0 = await mutex.acquire('k');
    const controller = new AbortController();
    const w1 = mutex.acquire('k').then((r) => (order.push('w1'), r));
    const w2 = mutex.acquire('k', { signal: controller.signal }).then((r) => (order.push('w2'), r));
    const w3 = mutex.acquire('k').then((r) => (order.push('w3'), r));
    expect(mutex.waiting('k')).toBe(3);
    expect(abortListeners(controller.signal)).toBe(1);

    const reason = new Error('stop');
    controller.abort(reason);
    await expect(w2).rejects.toBe(reason);
    expect(mutex.waiting('k')).toBe(2);
    expect(abortListeners(controller.signal)).toBe(0);

    release0();
    (await w1)();
    (await w3)();
    expect(order).toEqual(['w1', 'w3']);
    expect(mutex.size).toBe(0);
  });

  it('abort without a reason rejects with the signal default reason (AbortError)', async () => {
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k');
    const controller = new AbortController();
    const waiter = mutex.acquire('k', { signal: controller.signal });
    controller.abort();
    const error = await waiter.catch((e: unknown) => e);
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    release();
    expect(mutex.size).toBe(0);
  });

  it('the only waiter aborting, then the holder releasing, removes the entry', async () => {
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k');
    const controller = new AbortController();
    const waiter = mutex.acquire('k', { signal: controller.signal });
    controller.abort(new Error('x'));
    await expect(waiter).rejects.toThrow('x');
    expect(mutex.waiting('k')).toBe(0);
    expect(mutex.size).toBe(1); // still held
    release();
    expect(mutex.size).toBe(0);
  });

  it('removes its abort listener after acquiring (immediately or after waiting)', async () => {
    const mutex = new KeyedMutex();
    const controller = new AbortController();
    const release1 = await mutex.acquire('k', { signal: controller.signal });
    expect(abortListeners(controller.signal)).toBe(0);
    const waiter = mutex.acquire('k', { signal: controller.signal });
    expect(abortListeners(controller.signal)).toBe(1);
    release1();
    const release2 = await waiter;
    expect(abortListeners(controller.signal)).toBe(0);
    controller.abort(); // after acquiring: no effect
    expect(mutex.isLocked('k')).toBe(true);
    release2();
    expect(mutex.size).toBe(0);
  });

  it('run() with an aborted signal rejects and never calls fn', async () => {
    const mutex = new KeyedMutex();
    const fn = vi.fn(() => 1);
    const reason = new Error('no');
    await expect(mutex.run('k', fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
  });
});

describe('KeyedMutex: waitTimeout', () => {
  it('rejects with LockAcquireTimeoutError after waitTimeout, leaves the queue, clears timers', async () => {
    vi.useFakeTimers();
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k');
    const waiter = mutex.acquire('k', { waitTimeout: 100 });
    const outcome = waiter.catch((e: unknown) => e);
    expect(mutex.waiting('k')).toBe(1);
    expect(vi.getTimerCount()).toBe(1);

    await vi.advanceTimersByTimeAsync(99);
    expect(await isSettled(waiter)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(LockAcquireTimeoutError);
    expect(error).toMatchObject({ key: 'k', waitTimeout: 100, name: 'LockAcquireTimeoutError' });
    expect(mutex.waiting('k')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    release();
    expect(mutex.size).toBe(0);
  });

  it('acquiring before the timeout clears the timer and the waiter keeps the key', async () => {
    vi.useFakeTimers();
    const mutex = new KeyedMutex();
    const release1 = await mutex.acquire('k');
    const waiter = mutex.acquire('k', { waitTimeout: 1_000 });
    await vi.advanceTimersByTimeAsync(500);
    release1();
    const release2 = await waiter;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(mutex.isLocked('k')).toBe(true);
    release2();
    expect(mutex.size).toBe(0);
  });

  it('waitTimeout 0 is a single attempt: takes a free key, rejects at once on a held one', async () => {
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k', { waitTimeout: 0 });
    expect(mutex.isLocked('k')).toBe(true);
    const error = await mutex.acquire('k', { waitTimeout: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockAcquireTimeoutError);
    expect(mutex.waiting('k')).toBe(0);
    release();
    expect(mutex.size).toBe(0);
  });

  it('waits longer than the setTimeout limit (2^31-1 ms) without firing early', async () => {
    vi.useFakeTimers();
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k');
    const limit = 2 ** 31 - 1;
    const waiter = mutex.acquire('k', { waitTimeout: limit + 10 });
    const outcome = waiter.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(limit);
    expect(await isSettled(waiter)).toBe(false);
    expect(mutex.waiting('k')).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(await outcome).toBeInstanceOf(LockAcquireTimeoutError);
    expect(vi.getTimerCount()).toBe(0);
    release();
  });

  it('the timed-out waiter is skipped by the next hand-off', async () => {
    const mutex = new KeyedMutex();
    const release1 = await mutex.acquire('k');
    const timedOut = mutex.acquire('k', { waitTimeout: 5 });
    const patient = mutex.acquire('k');
    await expect(timedOut).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    release1();
    const release2 = await patient;
    expect(mutex.waiting('k')).toBe(0);
    release2();
    expect(mutex.size).toBe(0);
  });
});

describe('KeyedMutex: run', () => {
  it('passes the value through and releases', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', () => 42)).resolves.toBe(42);
    await expect(mutex.run('k', async () => 'async')).resolves.toBe('async');
    expect(mutex.size).toBe(0);
  });

  it('holds the key while fn runs', async () => {
    const mutex = new KeyedMutex();
    const seen = await mutex.run('k', () => [mutex.isLocked('k'), mutex.tryAcquire('k')]);
    expect(seen).toEqual([true, null]);
  });

  it('passes the same error through and releases on rejection and on a synchronous throw', async () => {
    const mutex = new KeyedMutex();
    const error = new Error('boom');
    await expect(
      mutex.run('k', async () => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(mutex.size).toBe(0);
    await expect(
      mutex.run('k', () => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(mutex.size).toBe(0);
  });

  it('a failing holder hands the key to the next run', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const failing = mutex.run('k', async () => {
      order.push('first');
      await ticks(3);
      throw new Error('fail');
    });
    const next = mutex.run('k', () => (order.push('second'), 'ok'));
    await expect(failing).rejects.toThrow('fail');
    await expect(next).resolves.toBe('ok');
    expect(order).toEqual(['first', 'second']);
    expect(mutex.size).toBe(0);
  });

  it('rejects a non-function fn', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', 5 as never)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'fn' });
    expect(mutex.size).toBe(0);
  });
});

describe('KeyedMutex: tryAcquire', () => {
  it('takes a free key, returns null on a held one, and works again after release', () => {
    const mutex = new KeyedMutex();
    const release = mutex.tryAcquire('k');
    expect(release).toBeTypeOf('function');
    expect(mutex.isLocked('k')).toBe(true);
    expect(mutex.tryAcquire('k')).toBeNull();
    expect(mutex.waiting('k')).toBe(0);
    release?.();
    expect(mutex.size).toBe(0);
    const again = mutex.tryAcquire('k');
    expect(again).not.toBeNull();
    again?.();
    expect(mutex.size).toBe(0);
  });

  it('a tryAcquire holder blocks acquire() until it releases', async () => {
    const mutex = new KeyedMutex();
    const release = mutex.tryAcquire('k');
    const waiter = mutex.acquire('k');
    expect(await isSettled(waiter)).toBe(false);
    release?.();
    (await waiter)();
    expect(mutex.size).toBe(0);
  });
});

describe('KeyedMutex: bad input', () => {
  const badKeys: unknown[] = ['', 5, undefined, null, {}, Symbol('k')];

  it.each(badKeys)('acquire(%s) returns a rejected promise with InvalidOptionError', async (key) => {
    const mutex = new KeyedMutex();
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = mutex.acquire(key as string);
    }).not.toThrow();
    expect(result).toBeInstanceOf(Promise);
    const error = await result?.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option: 'key', received: key });
    expect(mutex.size).toBe(0);
  });

  it.each(badKeys)('tryAcquire/isLocked/waiting(%s) throw InvalidOptionError synchronously', (key) => {
    const mutex = new KeyedMutex();
    expect(() => mutex.tryAcquire(key as string)).toThrow(InvalidOptionError);
    expect(() => mutex.isLocked(key as string)).toThrow(InvalidOptionError);
    expect(() => mutex.waiting(key as string)).toThrow(InvalidOptionError);
    expect(mutex.size).toBe(0);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '10', null])(
    'waitTimeout %s is rejected (through the promise)',
    async (waitTimeout) => {
      const mutex = new KeyedMutex();
      const error = await mutex.acquire('k', { waitTimeout: waitTimeout as number }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ option: 'waitTimeout', received: waitTimeout });
      expect((error as Error).message).toContain('waitTimeout must be a finite number >= 0');
      expect(mutex.size).toBe(0);
    },
  );

  it('bad waitTimeout is rejected even while the key is held (validated before queuing)', async () => {
    const mutex = new KeyedMutex();
    const release = await mutex.acquire('k');
    await expect(mutex.acquire('k', { waitTimeout: -5 })).rejects.toBeInstanceOf(InvalidOptionError);
    expect(mutex.waiting('k')).toBe(0);
    release();
  });

  it('rejects a signal that is not an AbortSignal and options that are not an object', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.acquire('k', { signal: {} as AbortSignal })).rejects.toMatchObject({
      name: 'InvalidOptionError',
      option: 'signal',
    });
    await expect(mutex.acquire('k', 'fast' as never)).rejects.toMatchObject({ option: 'options' });
    await expect(mutex.run('', () => 1)).rejects.toMatchObject({ option: 'key' });
    expect(mutex.size).toBe(0);
  });
});
