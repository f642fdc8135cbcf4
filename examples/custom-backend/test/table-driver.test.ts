// What the contract suite cannot know about this backend: its rows, its loss reports, its errors.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockBackendError, LockLostError } from '@dlock/core';
import { afterEach, describe, expect, it } from 'vitest';
import { LockTable, TableAccessError, TableUnavailableError } from '../src/lock-table.js';
import { TableLock, type TableLockOptions } from '../src/table-lock.js';

describe('TableLock (beyond the contract)', () => {
  const opened: TableLock[] = [];
  const open = (table: LockTable, options?: TableLockOptions): TableLock => {
    const lock = new TableLock(table, options);
    opened.push(lock);
    return lock;
  };
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((lock) => lock.close()));
  });

  it('keeps each lock in the row its driver data names, with the fence the handle carries', async () => {
    const table = new LockTable();
    const handle = (await open(table, { prefix: 'jobs:' }).tryLock('nightly', { ttl: 10_000 }))!;
    expect(table.get('jobs:nightly')).toMatchObject({ token: handle.token, fence: handle.fencingToken });
    expect(await open(table, { prefix: 'other:' }).tryLock('nightly')).not.toBeNull();
  });

  it('reports every held lock lost as soon as the table is cleared (host.held and host.lost)', async () => {
    const table = new LockTable();
    const lock = open(table);
    const handles = [(await lock.tryLock('a', { ttl: 60_000 }))!, (await lock.tryLock('b', { ttl: 60_000 }))!];
    table.clear();
    for (const handle of handles) {
      expect(handle.held).toBe(false);
      expect(handle.signal.reason).toBeInstanceOf(LockLostError);
    }
  });

  it('waits out an outage in lock(), and fails at once when access is refused (isTransient)', async () => {
    const table = new LockTable();
    const lock = open(table);
    table.down = true;
    const refused = await lock.tryLock('k').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LockBackendError);
    expect((refused as LockBackendError).cause).toBeInstanceOf(TableUnavailableError);
    const waiting = lock.lock('k', { waitTimeout: 5_000 });
    await sleep(300);
    table.down = false;
    expect((await waiting).held).toBe(true);

    table.refuses = true;
    const started = performance.now();
    await expect(lock.lock('k2', { waitTimeout: 5_000 })).rejects.toMatchObject({ cause: expect.any(TableAccessError) });
    expect(performance.now() - started).toBeLessThan(1_000);
    table.refuses = false;
  });
});
