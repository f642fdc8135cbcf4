import { startEtcd, type EtcdServer } from '@dlock/testkit';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { EtcdLock, EtcdMutex, etcdClientOptions, type EtcdLockBase } from '../src/index.js';
import { testPrefix } from './helpers.js';

/** What {@link twoLocksPerFile} gives a test file. */
export interface TwoLocksFile {
  /** The file's etcd (started before its first test). */
  readonly server: EtcdServer;
  /** A plain etcd3 client on it, for set-up and server-side checks. */
  readonly raw: Etcd3;
  /** `[name, make]` for EtcdLock and EtcdMutex: each `make()` opens one, closed after the test. */
  readonly kinds: ReadonlyArray<readonly [string, () => EtcdLockBase]>;
  /** The file's key prefix (the kinds use `<prefix>lock/` and `<prefix>mutex/`). */
  readonly prefix: string;
  /** Closes `lock` after the test. */
  open<T extends EtcdLockBase>(lock: T): T;
  /** The etcd key holding `name` for `lock` (the queue head for a mutex). */
  etcdKey(lock: EtcdLockBase, name: string): Promise<string>;
}

/**
 * One etcd per test file, a raw client on it, and both lock kinds under a fresh prefix, closed
 * after each test: registers the file's `beforeAll`, `afterEach` and `afterAll`.
 */
export function twoLocksPerFile(): TwoLocksFile {
  let server: EtcdServer | undefined;
  let raw: Etcd3 | undefined;
  const prefix = testPrefix();
  const opened: EtcdLockBase[] = [];
  beforeAll(async () => {
    server = await startEtcd();
    raw = new Etcd3(etcdClientOptions({ hosts: server.endpoint }));
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((l) => l.close()));
  });
  afterAll(async () => {
    raw?.close();
    await server?.stop();
  });
  const open = <T extends EtcdLockBase>(lock: T): T => {
    opened.push(lock);
    return lock;
  };
  const file: TwoLocksFile = {
    get server() {
      if (server === undefined) throw new Error('twoLocksPerFile: etcd starts in beforeAll');
      return server;
    },
    get raw() {
      if (raw === undefined) throw new Error('twoLocksPerFile: the raw client connects in beforeAll');
      return raw;
    },
    prefix,
    open,
    kinds: [
      ['EtcdLock', () => open(new EtcdLock({ hosts: file.server.endpoint }, { prefix: `${prefix}lock/` }))],
      ['EtcdMutex', () => open(new EtcdMutex({ hosts: file.server.endpoint }, { prefix: `${prefix}mutex/` }))],
    ],
    async etcdKey(lock, name) {
      if (lock instanceof EtcdLock) return lock.keyFor(name);
      const keys = await file.raw.getAll().prefix((lock as EtcdMutex).queuePrefixFor(name)).sort('Create', 'Ascend').keys();
      if (keys[0] === undefined) throw new Error(`no queue key for ${name}`);
      return keys[0];
    },
  };
  return file;
}
