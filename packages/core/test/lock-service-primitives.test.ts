import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  LockService,
  MemoryLock,
  MemoryReadWriteLock,
  MemorySemaphore,
  type LockEvent,
} from '../src/index.js';

/** Runs `n` functions at once and reports the most that were inside together. */
async function peak(n: number, run: (body: () => Promise<void>) => Promise<unknown>): Promise<number> {
  let inside = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      run(async () => {
        inside++;
        most = Math.max(most, inside);
        await sleep(20);
        inside--;
      }),
    ),
  );
  return most;
}

describe('LockService over a read-write lock and a semaphore', () => {
  it('withReadLock lets readers in together; withWriteLock runs alone', async () => {
    const service = new LockService(new MemoryReadWriteLock());
    expect(await peak(4, (body) => service.withReadLock('catalog', body))).toBe(4);
    expect(await peak(4, (body) => service.withWriteLock('catalog', body))).toBe(1);
    // A writer never overlaps readers.
    let readers = 0;
    let overlap = false;
    await Promise.all([
      ...Array.from({ length: 3 }, () =>
        service.withReadLock('mixed', async () => {
          readers++;
          await sleep(15);
          readers--;
        }),
      ),
      service.withWriteLock('mixed', async () => {
        if (readers > 0) overlap = true;
        await sleep(5);
      }),
    ]);
    expect(overlap).toBe(false);
    await service.close();
  });

  it('withPermit runs at most `limit` permits at once, with the watchdog and events of withLock', async () => {
    const events: LockEvent['type'][] = [];
    const service = new LockService(new MemorySemaphore(), { onEvent: (e) => events.push(e.type) });
    expect(await peak(6, (body) => service.withPermit('render', body, { limit: 2 }))).toBe(2);
    expect(await peak(4, (body) => service.withPermit('render', body, { limit: 4, permits: 2 }))).toBe(2);
    expect(events.filter((t) => t === 'acquired')).toHaveLength(10);
    expect(events.filter((t) => t === 'released')).toHaveLength(10);
    // A short lease kept alive by the service's watchdog while fn runs past it.
    const value = await service.withPermit('long', () => sleep(400).then(() => 'done'), { limit: 1, ttl: 150 });
    expect(value).toBe('done');
    await service.close();
  });

  it('refuses a run the lock cannot do, and bad input, before any acquisition', async () => {
    const rw = new LockService(new MemoryReadWriteLock());
    const error = await (rw as unknown as LockService).withLock('k', () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/DistributedLock for withLock\(\).*DistributedRWLock/);
    const sem = new LockService(new MemorySemaphore());
    await expect(sem.withPermit('k', () => 1, { limit: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(sem.withPermit('k', () => 1, { limit: 2, permit: 1 } as never)).rejects.toThrow(/did you mean "permits"/);
    expect(await sem.lock.inspect('k')).toBeNull();
    expect(() => new LockService(new MemorySemaphore(), { coalesce: true })).toThrow(InvalidOptionError);
    expect(() => new LockService({} as never)).toThrow(InvalidOptionError);
    const mutex = new LockService(new MemoryLock());
    await expect((mutex as unknown as LockService<MemoryReadWriteLock>).withReadLock('k', () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await Promise.all([rw.close(), sem.close(), mutex.close()]);
  });
});
