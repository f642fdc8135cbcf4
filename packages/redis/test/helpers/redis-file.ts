import { startRedis, type RedisServer } from '@dlock/testkit';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RedisLock } from '../../src/index.js';
import { adminClient } from './redis.js';

/** What {@link redisServerPerFile} gives a test file. */
export interface RedisFile {
  /** The file's redis-server (started before its first test). */
  readonly server: RedisServer;
  /** An admin client on it, for set-up and server-side checks. */
  readonly admin: Redis;
  /** A RedisLock on the file's server, closed after the test. */
  open(options?: ConstructorParameters<typeof RedisLock>[1]): RedisLock;
  /** Runs `fn` after the test (with the locks `open` made). */
  cleanup(fn: () => Promise<unknown> | void): void;
}

/**
 * One redis-server per test file, an admin client on it, and locks closed after each test:
 * registers the file's `beforeAll`, `afterEach` and `afterAll`. Call it at the top of the file.
 */
export function redisServerPerFile(): RedisFile {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  const after: Array<() => Promise<unknown> | void> = [];
  beforeAll(async () => {
    server = await startRedis();
    admin = adminClient(server.port);
  });
  afterEach(async () => {
    await Promise.allSettled(after.splice(0).map((f) => f()));
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });
  const file: RedisFile = {
    get server() {
      if (server === undefined) throw new Error('redisServerPerFile: the server starts in beforeAll');
      return server;
    },
    get admin() {
      if (admin === undefined) throw new Error('redisServerPerFile: the admin client connects in beforeAll');
      return admin;
    },
    open(options = {}) {
      const lock = new RedisLock({ host: file.server.host, port: file.server.port }, options);
      after.push(() => lock.close());
      return lock;
    },
    cleanup(fn) {
      after.push(fn);
    },
  };
  return file;
}
