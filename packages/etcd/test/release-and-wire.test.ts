import { setTimeout as sleep } from 'node:timers/promises';
import { LockNotHeldError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import { EtcdLock } from '../src/index.js';
import { delta, receivedMessages } from './helpers.js';
import { twoLocksPerFile } from './two-locks-file.js';

// What an uncontended lock costs on the wire, and what release makes of a key that changed
// under a holder (the release txn compares the token only; a miss reads the key).
const fx = twoLocksPerFile();
const { kinds, etcdKey } = fx;

describe.each(kinds)('%s', (_, make) => {
  it('an uncontended lock+unlock is one txn each on the wire, and nothing else but keep-alives', async () => {
    const lock = make();
    await (await lock.lock('warm-up', { ttl: 10_000 })).release(); // grants the shared lease, puts its sentinel
    await sleep(300); // the sentinel's watch is created in the background
    const before = await receivedMessages(fx.server.endpoint);
    for (let i = 0; i < 20; i++) await (await lock.lock(`pair-${i}`, { ttl: 10_000 })).release();
    const counted = delta(before, await receivedMessages(fx.server.endpoint));
    const { Txn, LeaseKeepAlive, ...others } = counted;
    expect(Txn).toBe(40);
    expect(others, JSON.stringify(counted)).toEqual({});
    expect(LeaseKeepAlive ?? 0).toBeLessThanOrEqual(20); // at most one per acquisition, shared when close together
  });

  it('release deletes a key that holds our token at another create revision (a late write of ours put it back)', async () => {
    const lock = make();
    const h = await lock.lock('rewritten', { ttl: 10_000 });
    const key = await etcdKey(lock, 'rewritten');
    const kv = (await fx.raw.get(key).exec()).kvs[0]!;
    await fx.raw.delete().key(key).exec();
    await fx.raw.put(key).value(h.token).lease(kv.lease).exec();
    const again = (await fx.raw.get(key).exec()).kvs[0]!;
    expect(BigInt(again.create_revision)).toBeGreaterThan(BigInt(kv.create_revision));
    await h.release();
    expect((await fx.raw.get(key).exec()).kvs).toEqual([]);
    expect(await lock.isLocked('rewritten')).toBe(false);
  });

  it('release after the key was deleted: counts as released while the lease lives, and never touches the next holder', async () => {
    const lock = make();
    const other = make();
    const gone = await lock.lock('gone', { ttl: 10_000 });
    await fx.raw.delete().key(await etcdKey(lock, 'gone')).exec();
    await gone.release(); // as a retry finds the key its lost first attempt deleted

    const taken = await lock.lock('taken', { ttl: 10_000 });
    await fx.raw.delete().key(await etcdKey(lock, 'taken')).exec();
    const theirs = await other.lock('taken', { ttl: 10_000, waitTimeout: 2_000 });
    if (lock instanceof EtcdLock) {
      // The key (one per name) now holds another token: ours is lost.
      await expect(taken.release()).rejects.toBeInstanceOf(LockNotHeldError);
    } else {
      // Our queue key (named after our lease) is simply gone; theirs is another key.
      await taken.release();
    }
    expect(theirs.held).toBe(true);
    expect((await lock.inspect('taken'))?.fencingToken).toBe(theirs.fencingToken);
    await theirs.release();
    expect(await lock.isLocked('taken')).toBe(false);
  });
});
