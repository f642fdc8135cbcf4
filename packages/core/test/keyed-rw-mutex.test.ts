import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, KeyedRWMutex, LockAcquireTimeoutError } from '../src/index.js';

/** Lets `n` rounds of microtasks run. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** A random pause: mostly a few microtasks, sometimes a macrotask. */
async function randomPause(): Promise<void> {
  if (Math.random() < 0.1) await new Promise((r) => setImmediate(r));
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

describe('KeyedRWMutex: exclusion', () => {
  it('8 keys x 600 mixed tasks: no writer overlaps anyone, readers overlap, nothing left behind', async () => {
    const rw = new KeyedRWMutex();
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const readers = new Map(keys.map((k) => [k, 0]));
    const writers = new Map(keys.map((k) => [k, 0]));
    const values = new Map(keys.map((k) => [k, 0]));
    let violations = 0;
    let maxReaders = 0;
    const task = async (key: string, write: boolean) => {
      if (write) {
        await rw.runWrite(key, async () => {
          writers.set(key, writers.get(key)! + 1);
          if (writers.get(key)! > 1 || readers.get(key)! > 0) violations++;
          const read = values.get(key)!;
          await randomPause();
          values.set(key, read + 1); // a lost update if two writers were inside
          writers.set(key, writers.get(key)! - 1);
        });
      } else {
        await rw.runRead(key, async () => {
          readers.set(key, readers.get(key)! + 1);
          maxReaders = Math.max(maxReaders, readers.get(key)!);
          if (writers.get(key)! > 0) violations++;
          await randomPause();
          readers.set(key, readers.get(key)! - 1);
        });
      }
    };
    const tasks: Array<Promise<void>> = [];
    let writes = 0;
    for (let i = 0; i < 600; i++) {
      const write = i % 5 === 0;
      if (write) writes++;
      tasks.push(task(keys[i % keys.length]!, write));
    }
    await Promise.all(tasks);
    expect(violations).toBe(0);
    expect([...values.values()].reduce((a, b) => a + b, 0)).toBe(writes);
    expect(maxReaders).toBeGreaterThan(1);
    expect(rw.size).toBe(0);
    for (const k of keys) expect(rw.waiting(k)).toBe(0);
  });

  it('try methods: readers share, a writer is alone, a waiting writer holds back new readers', async () => {
    const rw = new KeyedRWMutex();
    const r1 = rw.tryAcquireRead('k')!;
    const r2 = rw.tryAcquireRead('k')!;
    expect(r1).toBeTypeOf('function');
    expect(r2).toBeTypeOf('function');
    expect(rw.readers('k')).toBe(2);
    expect(rw.tryAcquireWrite('k')).toBeNull();
    const writing = rw.acquireWrite('k');
    expect(rw.waiting('k')).toBe(1);
    expect(rw.tryAcquireRead('k')).toBeNull(); // writer-preferring
    r1();
    r1(); // a second call is a no-op: it must not release r2
    expect(rw.readers('k')).toBe(1);
    expect(await isSettled(writing)).toBe(false);
    r2();
    const w = await writing;
    expect(rw.isWriteLocked('k')).toBe(true);
    expect(rw.readers('k')).toBe(0);
    w();
    expect(rw.isLocked('k')).toBe(false);
    expect(rw.size).toBe(0);
  });
});

describe('KeyedRWMutex: order', () => {
  it('hands over in arrival order: W1, then R1 and R2 together, then W2, then R3', async () => {
    const rw = new KeyedRWMutex();
    const first = await rw.acquireWrite('k');
    const events: string[] = [];
    const held = new Map<string, () => void>();
    const join = (name: string, write: boolean) =>
      (write ? rw.acquireWrite('k') : rw.acquireRead('k')).then((release) => {
        events.push(name);
        held.set(name, release);
      });
    const all = [join('W1', true), join('R1', false), join('R2', false), join('W2', true), join('R3', false)];
    expect(rw.waiting('k')).toBe(5);
    first();
    await ticks(5);
    expect(events).toEqual(['W1']);
    held.get('W1')!();
    await ticks(5);
    expect(events).toEqual(['W1', 'R1', 'R2']); // readers queued together enter together
    expect(rw.readers('k')).toBe(2);
    held.get('R1')!();
    await ticks(5);
    expect(events).toHaveLength(3); // W2 waits for R2 too
    held.get('R2')!();
    await ticks(5);
    expect(events).toEqual(['W1', 'R1', 'R2', 'W2']);
    held.get('W2')!();
    await Promise.all(all);
    expect(events.at(-1)).toBe('R3');
    held.get('R3')!();
    expect(rw.size).toBe(0);
  });

  it('a waiting writer that aborts lets the readers queued behind it in at once', async () => {
    const rw = new KeyedRWMutex();
    const r1 = await rw.acquireRead('k');
    const controller = new AbortController();
    const writer = rw.acquireWrite('k', { signal: controller.signal }).catch((e: unknown) => e);
    const reader = rw.acquireRead('k');
    expect(await isSettled(reader)).toBe(false);
    controller.abort(new Error('gone'));
    expect(await writer).toEqual(new Error('gone'));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const r2 = await reader;
    expect(rw.readers('k')).toBe(2);
    r1();
    r2();
    expect(rw.size).toBe(0);
    expect(rw.waiting('k')).toBe(0);
  });

  it('waitTimeout: 0 is one attempt; a timed-out writer leaves the queue', async () => {
    const rw = new KeyedRWMutex();
    const r = await rw.acquireRead('k');
    await expect(rw.acquireWrite('k', { waitTimeout: 0 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    const startedAt = performance.now();
    await expect(rw.acquireWrite('k', { waitTimeout: 50 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(45);
    expect(rw.waiting('k')).toBe(0);
    // Nobody waits any more: a new reader enters at once.
    const r2 = rw.tryAcquireRead('k');
    expect(r2).not.toBeNull();
    r();
    r2!();
    expect(rw.size).toBe(0);
  });

  it('run passes values and errors through and releases in finally', async () => {
    const rw = new KeyedRWMutex();
    expect(await rw.runRead('k', () => 42)).toBe(42);
    await expect(rw.runWrite('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(rw.size).toBe(0);
  });
});

describe('KeyedRWMutex: validation', () => {
  it('bad keys, options and functions raise InvalidOptionError and take nothing', async () => {
    const rw = new KeyedRWMutex();
    for (const key of ['', 1, null, '\ud800']) {
      await expect(rw.acquireRead(key as string)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(rw.acquireWrite(key as string)).rejects.toBeInstanceOf(InvalidOptionError);
      expect(() => rw.tryAcquireRead(key as string)).toThrow(InvalidOptionError);
      expect(() => rw.tryAcquireWrite(key as string)).toThrow(InvalidOptionError);
    }
    await expect(rw.acquireRead('k', { waitTimeout: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(rw.acquireWrite('k', { timeout: 5 } as never)).rejects.toThrow(/did you mean "waitTimeout"/);
    await expect(rw.runWrite('k', 'nope' as never)).rejects.toBeInstanceOf(InvalidOptionError);
    const aborted = AbortSignal.abort(new Error('early'));
    await expect(rw.acquireRead('k', { signal: aborted })).rejects.toEqual(new Error('early'));
    expect(rw.size).toBe(0);
  });
});
