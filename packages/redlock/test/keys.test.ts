import { startRedisNodes, uniqueKey, type RedisServer, type ServerGroup } from '@dlock/testkit';
import { redisLockKeys, releaseLatchKey } from '@dlock/redis/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redlock } from '../src/index.js';
import { directClients } from './helpers.js';

// Redlock names its keys on every node with @dlock/redis's encoding (one function for both):
// `%` and `}` of a user key are escaped inside the hash tag.
let nodes: ServerGroup<RedisServer>;
let direct: ReturnType<typeof directClients>;
const opened: Redlock[] = [];
const open = (): Redlock => {
  const lock = new Redlock(
    nodes.map((n) => n.url),
    { nodeTimeout: 500 },
  );
  opened.push(lock);
  return lock;
};

beforeAll(async () => {
  nodes = await startRedisNodes(3);
  direct = directClients(nodes);
});
afterAll(async () => {
  direct?.close();
  await nodes?.stop();
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
});

describe('Redlock key names', () => {
  it('a key with } and % is named as @dlock/redis names it: lock, fence counter, release latch', async () => {
    const lock = open();
    const key = `${uniqueKey('redlock-escape')}:a}b%c`;
    const tag = key.replace('}', '%7D').replace('%c', '%25c');
    const names = redisLockKeys('dlock', key);
    expect(names.lock).toBe(`dlock:{${tag}}`);
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    const count = async (name: string) => (await Promise.all(direct.map((c) => c.exists(name)))).filter((n) => n === 1).length;
    // On a quorum (2 of 3) at least: a slow node's reply may still be on its way.
    expect(await count(`dlock:{${tag}}`)).toBeGreaterThanOrEqual(2);
    expect(await count(`dlock:{${tag}}:fence`)).toBeGreaterThanOrEqual(2);
    expect(await count(`dlock:{${key}}`)).toBe(0); // the unescaped name of earlier versions
    expect((await lock.inspect(key))?.fencingToken).toBe(h.fencingToken);
    await h.release();
    expect(await count(releaseLatchKey(names, h.token))).toBeGreaterThanOrEqual(2);
    expect(await count(`dlock:{${tag}}:released:${h.token}`)).toBeGreaterThanOrEqual(2);
    expect(await count(names.lock)).toBe(0);
  });
});
