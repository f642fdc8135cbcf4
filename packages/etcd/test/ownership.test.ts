import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Handle, LockLostError, LockNotHeldError, type LockHandle } from '@dlock/core';
import { waitFor } from '@dlock/testkit';
import { describe, expect, it } from 'vitest';
import { EtcdMutex, type EtcdLockBase, type KeyEntry } from '../src/index.js';
import { twoLocksPerFile } from './two-locks-file.js';

// Ownership of a held lock is its 128-bit token, never its key or create revision: the create
// revision is the public fencing token (inspect() shows it), so anyone could put it in a handle.
const fx = twoLocksPerFile();
const { kinds, etcdKey, open, prefix } = fx;

/**
 * Puts another token as `key`'s value, on the same lease: a put keeps the create revision, so
 * only the token tells the key is no longer ours.
 */
async function overwriteToken(key: string): Promise<string> {
  const kv = (await fx.raw.get(key).exec()).kvs[0]!;
  const other = randomBytes(16).toString('hex');
  await fx.raw.put(key).value(other).lease(kv.lease).exec();
  expect((await fx.raw.get(key).exec()).kvs[0]!.create_revision).toBe(kv.create_revision);
  return other;
}

/**
 * A handle for `h`'s lock put together by hand: same key and fencing token, another token. Its
 * data is the holder's own entry, or (`copy`) a copy of it that carries the forged token.
 */
function forge(lock: EtcdLockBase, h: LockHandle, copy: boolean): Handle {
  const token = randomBytes(16).toString('hex');
  const entry = (h as Handle<KeyEntry>).data;
  return new Handle(lock, h.key, token, h.fencingToken, 10_000, h.validUntil, copy ? { ...entry, token } : entry);
}

describe.each(kinds)('%s: ownership is the token', (_, make) => {
  it('a handle with the right key and fencing token but another token can neither release nor renew the lock', async () => {
    const lock = make();
    const other = make();
    const h = await lock.lock('forged', { ttl: 10_000 });
    const calls = [
      (f: Handle) => lock.unlock(f),
      (f: Handle) => lock.renew(f),
      (f: Handle) => lock.renew(f, 30_000), // another lease length: the renew that moves the key
    ];
    for (const copy of [false, true]) {
      for (const call of calls) {
        // A fresh forged handle each time: one that failed once is marked lost and never reaches etcd again.
        await expect(call(forge(lock, h, copy))).rejects.toBeInstanceOf(LockNotHeldError);
      }
    }
    // The holder still holds it: etcd, other instances and the handle itself agree.
    expect(h.held).toBe(true);
    expect(await lock.inspect('forged')).toMatchObject({ fencingToken: h.fencingToken, holder: h.token.slice(0, 8) });
    expect(await other.tryLock('forged', { ttl: 10_000 })).toBeNull();
    await h.extend();
    await h.release();
    expect(await lock.isLocked('forged')).toBe(false);
  });

  it('a key that holds another token at our create revision is not ours: renew and release fail, the key stays', async () => {
    const lock = make();
    // renew with the same TTL (the ownership check of the key)
    const renewed = await lock.lock('tok-renew', { ttl: 10_000 });
    const renewKey = await etcdKey(lock, 'tok-renew');
    const renewOwner = await overwriteToken(renewKey);
    await expect(renewed.extend()).rejects.toBeInstanceOf(LockNotHeldError);
    expect(renewed.signal.reason).toBeInstanceOf(LockLostError);

    // renew with another TTL (moves the key to another lease by a put)
    const moved = await lock.lock('tok-move', { ttl: 10_000 });
    const moveKey = await etcdKey(lock, 'tok-move');
    const moveOwner = await overwriteToken(moveKey);
    await expect(moved.extend(30_000)).rejects.toBeInstanceOf(LockNotHeldError);

    // release
    const released = await lock.lock('tok-release', { ttl: 10_000 });
    const releaseKey = await etcdKey(lock, 'tok-release');
    const releaseOwner = await overwriteToken(releaseKey);
    await expect(released.release()).rejects.toBeInstanceOf(LockNotHeldError);

    await sleep(300); // a lost lock's key is deleted in the background, if it is still ours
    for (const [key, owner] of [
      [renewKey, renewOwner],
      [moveKey, moveOwner],
      [releaseKey, releaseOwner],
    ]) {
      expect((await fx.raw.get(key!).exec()).kvs[0]?.value.toString()).toBe(owner);
    }
  });

  it('the watchdog reports a key that now holds another token as lost', async () => {
    const lock = make();
    const h = await lock.lock('tok-watchdog', { ttl: 3_000 });
    const stop = lock.autoRenew(h);
    try {
      await overwriteToken(await etcdKey(lock, 'tok-watchdog'));
      await waitFor(() => h.signal.aborted, 3_000); // next tick at ttl/3
      expect(h.signal.reason).toBeInstanceOf(LockLostError);
    } finally {
      stop();
    }
  });
});

describe('EtcdMutex: a key of ours left behind', () => {
  it('is taken over by the next put of that key: its value becomes the new holder token, and release works', async () => {
    const m = open(new EtcdMutex({ hosts: fx.server.endpoint }, { prefix: `${prefix}mutex/` }));
    const first = await m.lock('left', { ttl: 10_000 });
    const key = await etcdKey(m, 'left');
    const lease = (await fx.raw.get(key).exec()).kvs[0]!.lease;
    await first.release();
    // As if that release's delete had failed: the same key name (same lease, same slot) with the old token.
    await fx.raw.put(key).value(first.token).lease(lease).exec();
    const second = await m.lock('left', { ttl: 10_000, waitTimeout: 2_000 });
    expect(await etcdKey(m, 'left')).toBe(key);
    expect((await fx.raw.get(key).exec()).kvs[0]?.value.toString()).toBe(second.token);
    expect((await m.inspect('left'))?.holder).toBe(second.token.slice(0, 8));
    await second.release();
    expect(await fx.raw.get(key).exec()).toMatchObject({ kvs: [] });
  });
});
