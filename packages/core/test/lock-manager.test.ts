import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  LockClosedError,
  LockManager,
  LockService,
  MemoryLock,
  MemoryLockStore,
  UnknownBackendError,
} from '../src/index.js';

const fresh = () => new MemoryLock({ store: new MemoryLockStore() });

describe('LockManager', () => {
  it('registers backends by name and runs work on the one asked for', async () => {
    const manager = new LockManager();
    const a = manager.register('a', fresh());
    const b = manager.register('b', new LockService(fresh(), { ttl: 5_000 }));
    expect(manager.names()).toEqual(['a', 'b']);
    expect(manager.has('a')).toBe(true);
    expect(manager.has('c')).toBe(false);
    expect(manager.get('a')).toBe(a);
    expect(manager.get('b')).toBe(b);
    const value = await manager.withLock('b', 'k', async () => {
      expect(await manager.isLocked('b', 'k')).toBe(true);
      expect(await manager.isLocked('a', 'k')).toBe(false);
      return (await manager.getLockInfo('b', 'k'))?.ttlRemaining;
    });
    expect(value).toBeGreaterThan(4_000);
    expect(await manager.tryWithLock('a', 'k', () => 'ran')).toEqual({ acquired: true, value: 'ran' });
    await manager.close();
  });

  it('uses the first registered (or the one marked default) when no name is given', async () => {
    const manager = new LockManager();
    const first = manager.register('first', fresh());
    expect(manager.get()).toBe(first);
    const second = manager.register('second', fresh(), { default: true });
    expect(manager.get()).toBe(second);
    expect(manager.defaultName).toBe('second');
    expect(await manager.withLock(undefined, 'k', () => 'x')).toBe('x');
    manager.unregister('second');
    expect(manager.get()).toBe(first);
    await manager.close();
  });

  it('rejects a duplicate name and reports an unknown one with the known names', async () => {
    const manager = new LockManager();
    manager.register('redis', fresh());
    expect(() => manager.register('redis', fresh())).toThrow(InvalidOptionError);
    expect(() => manager.register('', fresh())).toThrow(InvalidOptionError);
    const error = (() => {
      try {
        manager.get('etcd');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnknownBackendError);
    expect((error as Error).message).toContain('redis');
    await expect(manager.withLock('etcd', 'k', () => 1)).rejects.toBeInstanceOf(UnknownBackendError);
    expect(() => new LockManager().get()).toThrow(UnknownBackendError);
    await manager.close();
  });

  it('close() closes every backend once, even one registered under two names', async () => {
    const manager = new LockManager();
    let closes = 0;
    const lock = fresh();
    const close = lock.close.bind(lock);
    lock.close = () => {
      closes++;
      return close();
    };
    manager.register('x', lock);
    manager.register('y', lock);
    const other = manager.register('z', fresh());
    await Promise.all([manager.close(), manager.close()]);
    expect(closes).toBe(1);
    await expect(other.withLock('k', () => 1)).rejects.toBeInstanceOf(LockClosedError);
    expect(() => manager.register('w', fresh())).toThrow(LockClosedError);
  });

  it('close() tries every backend and aggregates failures', async () => {
    const manager = new LockManager();
    const bad = fresh();
    bad.close = () => Promise.reject(new Error('socket hang up'));
    const good = fresh();
    manager.register('bad', bad);
    manager.register('good', good);
    const error = await manager.close().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toHaveLength(1);
    expect(good.closed).toBe(true);
  });
});
