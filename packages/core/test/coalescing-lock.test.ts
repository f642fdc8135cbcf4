import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CoalescingLock, InvalidOptionError, LockLostError, LockNotHeldError, MemoryLockStore } from '../src/index.js';
import { CountingLock } from './counting-lock.js';

describe('CoalescingLock (a decorator over any lock)', () => {
  it('lets one same-key caller at a time reach the backend; the rest queue locally in order', async () => {
    const inner = new CountingLock(new MemoryLockStore());
    const lock = new CoalescingLock(inner);
    const order: number[] = [];
    let inside = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const handle = await lock.lock('k', { ttl: 5_000 });
        inside++;
        expect(inside).toBe(1);
        order.push(i);
        await sleep(2);
        inside--;
        await handle.release();
      }),
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Each caller acquired at the backend once, and never while another local caller waited there.
    expect(inner.acquires).toBe(8);
    expect(lock.waiting('k')).toBe(0);
    await lock.close();
  });

  it('tryLock is null while a local caller holds the key, without asking the backend', async () => {
    const inner = new CountingLock(new MemoryLockStore());
    const lock = new CoalescingLock(inner);
    const held = await lock.lock('k');
    const before = inner.acquires;
    expect(await lock.tryLock('k')).toBeNull();
    expect(inner.acquires).toBe(before);
    await lock.unlock(held);
    const again = await lock.tryLock('k');
    expect(again?.held).toBe(true);
    await again!.release();
    await expect(again!.release()).rejects.toBeInstanceOf(LockNotHeldError);
    await lock.close();
  });

  it('a lost lock: its signal aborts, its release rejects and lets the next local caller in', async () => {
    const store = new MemoryLockStore();
    const lock = new CoalescingLock(new CountingLock(store));
    const first = await lock.lock('k', { ttl: 60 });
    let nextAcquired = false;
    const next = lock.lock('k', { ttl: 5_000, waitTimeout: 5_000 }).then((h) => {
      nextAcquired = true;
      return h;
    });
    const reason = await new Promise((resolve) => first.signal.addEventListener('abort', () => resolve(first.signal.reason)));
    expect(reason).toBeInstanceOf(LockLostError);
    await sleep(50);
    expect(nextAcquired).toBe(false); // a turn ends when its holder ends it, as with a local mutex
    await expect(first.release()).rejects.toBeInstanceOf(LockNotHeldError);
    const second = await next;
    expect(second.held).toBe(true);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
    await lock.close();
  });

  it('with handOver, a runner that keeps its lease renewed passes it on; a plain caller never does', async () => {
    const inner = new CountingLock(new MemoryLockStore());
    const lock = new CoalescingLock(inner, { handOver: true });
    const caller = { autoRenew: true };
    const a = await lock.lock('k', { ttl: 5_000 }, caller);
    const b = lock.lock('k', { ttl: 5_000 }, caller);
    await sleep(5);
    await lock.unlock(a);
    const handedOver = await b;
    expect(inner.acquires).toBe(1); // b got a's backend lock
    await lock.unlock(handedOver);
    const c = await lock.lock('k', { ttl: 5_000 });
    const d = lock.lock('k', { ttl: 5_000 });
    await sleep(5);
    await lock.unlock(c);
    await (await d).release();
    expect(inner.acquires).toBe(3); // c and d each acquired their own
    await lock.close();
  });

  it('rejects what is not a lock, and bad options before touching the local queue', async () => {
    expect(() => new CoalescingLock({} as never)).toThrow(InvalidOptionError);
    const lock = new CoalescingLock(new CountingLock(new MemoryLockStore()));
    await expect(lock.lock('k', { ttl: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(lock.tryLock('', {})).rejects.toBeInstanceOf(InvalidOptionError);
    expect(lock.waiting('k')).toBe(0);
    expect(await lock.isLocked('k')).toBe(false);
    await lock.close();
  });
});
