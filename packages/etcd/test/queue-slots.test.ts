import { LockAcquireTimeoutError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import { mutexQueueKey } from '../src/keys.js';
import { QueueSlots, type Slot } from '../src/queue-slots.js';

// No server needed: the local side of EtcdMutex's queue (slots and put turns).

describe('QueueSlots', () => {
  it('every name has all its slots at once: callers take them up to the size, then wait oldest first', async () => {
    const slots = new QueueSlots(3);
    const a = await slots.take('k');
    const order: number[] = [];
    const b = slots.take('k').then((s) => (order.push(1), s));
    const c = slots.take('k').then((s) => (order.push(2), s));
    const d = slots.take('k').then((s) => (order.push(3), s));
    expect([(await b).index, (await c).index]).toEqual([1, 2]);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2]); // the third still waits: 3 slots in use
    (await b).release();
    expect((await d).index).toBe(1);
    for (const s of [a, await c, await d]) s.release();
    expect(slots.inUse('k')).toBe(0);
  });

  it('hands out the lowest free slot, then queues callers first come, first served', async () => {
    const slots = new QueueSlots(2);
    const a = await slots.take('k');
    const b = await slots.take('k');
    expect([a.index, b.index]).toEqual([0, 1]);
    const order: number[] = [];
    const c = slots.take('k').then((s) => (order.push(3), s));
    const d = slots.take('k').then((s) => (order.push(4), s));
    expect(slots.inUse('k')).toBe(2);
    b.release();
    b.release(); // idempotent: frees one slot, not two
    expect((await c).index).toBe(1);
    a.release();
    expect((await d).index).toBe(0);
    expect(order).toEqual([3, 4]);
    (await c).release();
    (await d).release();
    expect(slots.inUse('k')).toBe(0);
    expect(slots.tryTakeIdle('k')).not.toBeNull(); // the name was dropped and starts afresh
  });

  it('tryTakeIdle only succeeds while nobody of this instance uses the name', async () => {
    const slots = new QueueSlots(4);
    const held = slots.tryTakeIdle('k')!;
    expect(held.index).toBe(0);
    expect(slots.tryTakeIdle('k')).toBeNull();
    expect(slots.tryTakeIdle('other')).not.toBeNull();
    held.release();
    expect(slots.tryTakeIdle('k')).not.toBeNull();
  });

  it('turns follow grant order; a caller that gives up early does not hold back later ones', async () => {
    const slots = new QueueSlots(4);
    const granted: Slot[] = [await slots.take('k')];
    for (let i = 1; i < 4; i++) granted.push(await slots.take('k'));
    const [first, second, third, fourth] = granted as [Slot, Slot, Slot, Slot];
    const done: string[] = [];
    await slots.waitTurn('k', first); // the oldest goes at once
    const thirdTurn = slots.waitTurn('k', third).then(() => done.push('third'));
    const fourthTurn = slots.waitTurn('k', fourth).then(() => done.push('fourth'));
    second.release(); // gave up before its put: its turn ends with it
    await new Promise((r) => setImmediate(r));
    expect(done).toEqual([]); // the first one's put is still under way
    first.turnDone();
    await thirdTurn;
    expect(done).toEqual(['third']);
    third.turnDone();
    await fourthTurn;
    expect(done).toEqual(['third', 'fourth']);
  });

  it('waiting for a slot or a turn ends with LockAcquireTimeoutError or the abort reason, leaving the queue', async () => {
    const slots = new QueueSlots(1);
    const held = await slots.take('k');
    await expect(slots.take('k', { waitTimeout: 0 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    await expect(slots.take('k', { waitTimeout: 30 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    const controller = new AbortController();
    const aborted = slots.take('k', { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    held.release();
    expect(slots.inUse('k')).toBe(0); // the ones that left were never handed the slot

    const two = new QueueSlots(2);
    const x = await two.take('k');
    const y = await two.take('k');
    await expect(two.waitTurn('k', y, { waitTimeout: 20 })).rejects.toBeInstanceOf(LockAcquireTimeoutError);
    x.turnDone();
    await two.waitTurn('k', y); // its place in the order is kept after a timed-out wait
  });
});

describe('mutexQueueKey', () => {
  it("names slot 0 after the lease alone (Go's layout) and further slots <lease>-<n>", () => {
    const dir = Buffer.from('jobs/');
    expect(mutexQueueKey(dir, '694d7a1b2c').toString()).toBe('jobs/694d7a1b2c');
    expect(mutexQueueKey(dir, '694d7a1b2c', 3).toString()).toBe('jobs/694d7a1b2c-3');
  });
});
