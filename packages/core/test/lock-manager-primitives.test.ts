import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  InvalidOptionError,
  LockClosedError,
  LockManager,
  LockService,
  MemoryClaimStore,
  MemoryElection,
  MemoryElectionStore,
  MemoryLock,
  MemoryLockStore,
  MemoryReadWriteLock,
  MemorySemaphore,
  UnknownBackendError,
  type DistributedRWLock,
  type DistributedSemaphore,
  type Election,
} from '../src/index.js';

const mutex = () => new MemoryLock({ store: new MemoryLockStore() });
const rwLock = () => new MemoryReadWriteLock({ store: new MemoryClaimStore() });
const semaphore = () => new MemorySemaphore({ store: new MemoryClaimStore() });
const election = () => new MemoryElection({ store: new MemoryElectionStore() });

/** A promise and its resolve function. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('LockManager with read-write locks, semaphores and elections', () => {
  it('holds one primitive of each kind per name and runs each runner on its own', async () => {
    await using manager = new LockManager();
    const m = manager.register('mem', mutex());
    const rw = manager.register('mem', rwLock());
    const sem = manager.register('mem', semaphore());
    const el = manager.register('mem', election());
    expectTypeOf(rw).toEqualTypeOf<LockService<MemoryReadWriteLock>>();
    expectTypeOf(manager.getSemaphore('mem')).toEqualTypeOf<LockService<DistributedSemaphore>>();
    expect(manager.names()).toEqual(['mem']);
    expect(manager.get('mem')).toBe(m);
    expect(manager.getReadWriteLock('mem')).toBe(rw);
    expect(manager.getSemaphore('mem')).toBe(sem);
    expect(manager.getElection('mem')).toBe(el);

    // Two readers inside at once; the writer only after both left.
    const readersIn = gate();
    const leave = gate();
    let inside = 0;
    const reader = () =>
      manager.withReadLock('mem', 'catalog', async () => {
        if (++inside === 2) readersIn.open();
        await leave.opened;
        inside--;
        return 'read';
      });
    const reads = [reader(), reader()];
    await readersIn.opened;
    expect((await rw.lock.inspect('catalog'))?.readers).toBe(2);
    let wroteWith = -1;
    const write = manager.withWriteLock('mem', 'catalog', () => {
      wroteWith = inside;
      return 'written';
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(wroteWith).toBe(-1); // still waiting for the readers
    leave.open();
    expect(await Promise.all([...reads, write])).toEqual(['read', 'read', 'written']);
    expect(wroteWith).toBe(0);
    // The mutex of the same name is another lock: the read-write lock's key does not hold it.
    expect(await manager.isLocked('mem', 'catalog')).toBe(false);

    // Permits: two of a limit of 2 run, the third waits for one to end.
    const twoIn = gate();
    const end = gate();
    let running = 0;
    let most = 0;
    const job = () =>
      manager.withPermit(
        'mem',
        'render',
        async () => {
          most = Math.max(most, ++running);
          if (running === 2) twoIn.open();
          await end.opened;
          running--;
        },
        { limit: 2 },
      );
    const jobs = [job(), job(), job()];
    await twoIn.opened;
    const info = await sem.lock.inspect('render');
    expect([info?.used, info?.waiting]).toEqual([2, 1]);
    end.open();
    await Promise.all(jobs);
    expect(most).toBe(2);

    const led = await manager.lead('mem', 'cron', (leadership) => ({ value: leadership.value, term: leadership.term }), { value: 'pod-1' });
    expect(led.value).toBe('pod-1');
    expect(typeof led.term).toBe('bigint');
  });

  it('rejects a second primitive of the same kind under a name, and changes nothing', async () => {
    await using manager = new LockManager();
    const first = manager.register('redis', rwLock());
    const error = thrown(() => manager.register('redis', rwLock()));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('read-write lock');
    expect(manager.getReadWriteLock('redis')).toBe(first);
    expect(() => manager.register('redis', { not: 'a lock' } as unknown as DistributedRWLock)).toThrow(InvalidOptionError);
    expect(() => manager.register('other', { not: 'a lock' } as unknown as DistributedRWLock)).toThrow(InvalidOptionError);
    expect(manager.names()).toEqual(['redis']);
    // Another kind under the same name is fine.
    manager.register('redis', mutex());
    expect(manager.names()).toEqual(['redis']);
  });

  it('keeps a default per kind: the first registered of each, or the one marked default', async () => {
    await using manager = new LockManager();
    manager.register('memory', mutex());
    const redisRw = manager.register('redis', rwLock());
    const etcdRw = manager.register('etcd', rwLock());
    const etcdSem = manager.register('etcd', semaphore());
    expect(manager.defaultName).toBe('memory');
    expect(manager.getReadWriteLock()).toBe(redisRw);
    expect(manager.getSemaphore()).toBe(etcdSem);
    expect(await manager.withReadLock(undefined, 'k', (h) => h.key)).toBe('k');
    await manager.withPermit(undefined, 'k', async () => {
      expect((await etcdSem.lock.inspect('k'))?.used).toBe(1);
    }, { limit: 3 });

    // Marking one default moves only its kind's default.
    const redisMutex = manager.register('redis', mutex(), { default: true });
    expect(manager.defaultName).toBe('redis');
    expect(manager.get()).toBe(redisMutex);
    expect(manager.getReadWriteLock()).toBe(redisRw);

    // Unregistering a name removes all it holds; each default falls to the next holder.
    const removed = manager.unregister('redis');
    expect(removed).toHaveLength(2);
    expect(removed).toContain(redisRw);
    expect(removed).toContain(redisMutex);
    expect(manager.unregister('redis')).toEqual([]);
    expect(manager.defaultName).toBe('memory');
    expect(manager.getReadWriteLock()).toBe(etcdRw);
    manager.unregister('etcd');
    expect(() => manager.getReadWriteLock()).toThrow(UnknownBackendError);
    expect(() => manager.getSemaphore()).toThrow(UnknownBackendError);
    await redisRw.close();
    await redisMutex.close();
  });

  it('reports a name that lacks the primitive asked for with the names that have one', async () => {
    await using manager = new LockManager();
    manager.register('memory', mutex());
    manager.register('etcd', rwLock());
    const error = thrown(() => manager.getReadWriteLock('memory'));
    expect(error).toBeInstanceOf(UnknownBackendError);
    expect((error as UnknownBackendError).backendName).toBe('memory');
    expect((error as Error).message).toBe('no read-write lock named "memory" is registered (known: etcd)');
    await expect(manager.withReadLock('memory', 'k', () => 1)).rejects.toBeInstanceOf(UnknownBackendError);
    await expect(manager.withPermit('etcd', 'k', () => 1, { limit: 1 })).rejects.toThrow('no semaphore named "etcd" is registered (known: none)');
    await expect(manager.lead(undefined, 'cron', () => 1)).rejects.toThrow('no election named "(default)"');
    await expect(manager.withLock('etcd', 'k', () => 1)).rejects.toThrow('no mutex named "etcd" is registered (known: memory)');
    await expect(manager.withLock('zookeeper', 'k', () => 1)).rejects.toThrow('no lock backend named "zookeeper"');
  });

  it('close() closes every primitive once, even one registered under two names', async () => {
    const manager = new LockManager();
    const sem = semaphore();
    let closes = 0;
    const close = sem.close.bind(sem);
    sem.close = () => {
      closes++;
      return close();
    };
    manager.register('a', sem);
    manager.register('b', new LockService(sem));
    const rw = manager.register('a', rwLock());
    const el = manager.register('b', election());
    await manager.close();
    expect(closes).toBe(1);
    expect([rw.lock.closed, el.lock.closed]).toEqual([true, true]);
    await expect(manager.withReadLock('a', 'k', () => 1)).rejects.toBeInstanceOf(LockClosedError);
    expect(() => manager.register('c', rwLock())).toThrow(LockClosedError);
    expectTypeOf(manager.getElection('b')).toEqualTypeOf<LockService<Election>>();
  });
});
