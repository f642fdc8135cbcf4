import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError, LockService } from '@dlock/core';
import { startRedisNodes, uniqueKey, type RedisServer, type ServerGroup } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redlock, type RedlockNode, type RedlockOptions } from '../src/index.js';
import { blackHole, directClients, holdersOf, lockKeyOf } from './helpers.js';

// Bad input is refused with InvalidOptionError before any I/O: no connection is made (counted
// by a listener that accepts and never answers), no script runs on a real node (counted by the
// node's own command statistics), and nothing changes.
let nodes: ServerGroup<RedisServer>;
let direct: ReturnType<typeof directClients>;
let hole: Awaited<ReturnType<typeof blackHole>>;
const opened: Redlock[] = [];
const urls = () => nodes.map((n) => n.url);
const open = (nodeList: RedlockNode[] = urls(), options: RedlockOptions = {}): Redlock => {
  const lock = new Redlock(nodeList, options);
  opened.push(lock);
  return lock;
};

/** The error `fn` throws (the test fails if it throws none). */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** EVAL + EVALSHA calls a node has served so far. */
async function scriptCalls(client: Redis): Promise<number> {
  const stats = await client.info('commandstats');
  return [...stats.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const allScriptCalls = async (): Promise<number[]> => Promise.all(direct.map(scriptCalls));
/**
 * The counts once every node's calls have landed: an acquire is decided at a quorum, so the
 * slowest node's acquire and fence calls may still be on their way when it resolves.
 */
async function settledScriptCalls(): Promise<number[]> {
  let last = await allScriptCalls();
  for (let i = 0; i < 40; i++) {
    await sleep(100);
    const now = await allScriptCalls();
    if (now.every((n, j) => n === last[j])) return now;
    last = now;
  }
  return last;
}

beforeAll(async () => {
  nodes = await startRedisNodes(3);
  direct = directClients(nodes);
  hole = await blackHole();
});
afterAll(async () => {
  direct?.close();
  await hole?.close();
  await nodes?.stop();
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
});

describe('Redlock refuses the same server twice', () => {
  it('two spellings of one server, as URLs or options, before connecting', async () => {
    const p = hole.port;
    const sameServer: RedlockNode[] = [
      `redis://127.0.0.1:${p}`,
      `redis://localhost:${p}`,
      `redis://[::1]:${p}`,
      `redis://LocalHost.:${p}/3`, // another database of the same server is the same failure domain
      `rediss://user:secret@127.0.0.1:${p}`,
      `127.0.0.1:${p}`,
      String(p),
      { port: p },
      { host: '127.0.0.1', port: String(p) as unknown as number },
      { host: '0:0:0:0:0:0:0:1', port: p, db: 2 },
    ];
    for (const [i, first] of sameServer.entries()) {
      const second = sameServer[(i + 1) % sameServer.length]!;
      const error = thrownBy(() => new Redlock([first, nodes[0]!.url, second]));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error.message).toMatch(
        new RegExp(`^nodes\\[2\\] must be a different Redis server than nodes\\[0\\] \\(both are localhost:${p}; .*\\), got `),
      );
    }
    // What was received is named: a URL as given, options by the server they name.
    expect(thrownBy(() => new Redlock([hole.url, hole.url])).message).toMatch(/, got "redis:\/\/127\.0\.0\.1:\d+" \(string\)$/);
    expect(thrownBy(() => new Redlock([hole.url, { port: p }])).message).toMatch(new RegExp(`, got ioredis options for localhost:${p}$`));
    await sleep(100);
    expect(hole.accepted).toBe(0);

    // Different servers are accepted, whatever the spelling, and lock as before.
    const [a, b, c] = nodes.map((n) => n.port);
    const lock = open([`redis://localhost:${a}`, { host: '127.0.0.1', port: b! }, `127.0.0.1:${c}`]);
    const key = uniqueKey('redlock-distinct-spellings');
    const h = (await lock.tryLock(key))!;
    expect(h).not.toBeNull();
    await h.release();
    expect(await holdersOf(direct, key)).toEqual([]);
  });

  it('the same client object twice, or two clients of one server, without touching them', () => {
    const client = new Redis(hole.url, { lazyConnect: true });
    const other = new Redis({ port: hole.port, lazyConnect: true });
    try {
      const twice = thrownBy(() => new Redlock([client, nodes[0]!.url, client]));
      expect(twice).toBeInstanceOf(InvalidOptionError);
      expect(twice.message).toBe(
        `nodes[2] must be a different client than nodes[0] (the same object is given twice; Redlock needs independent servers), got an ioredis client for localhost:${hole.port}`,
      );
      expect((twice as InvalidOptionError).received).toBe(client);
      const sameServer = thrownBy(() => new Redlock([client, other]));
      expect(sameServer).toBeInstanceOf(InvalidOptionError);
      expect(sameServer.message).toMatch(/^nodes\[1\] must be a different Redis server than nodes\[0\] \(both are localhost:\d+; /);
      expect(thrownBy(() => new Redlock([hole.url, other])).message).toMatch(/^nodes\[1\] must be a different Redis server/);
      // Untouched: not connected, and no listener was added (Redlock adds 'ready' and 'close' ones).
      expect([client.status, other.status]).toEqual(['wait', 'wait']);
      expect(client.listenerCount('ready') + client.listenerCount('close')).toBe(0);
    } finally {
      client.disconnect();
      other.disconnect();
    }
  });

  it('an empty array says so, and a URL no client could use is refused, before connecting', async () => {
    const empty = thrownBy(() => new Redlock([]));
    expect(empty).toBeInstanceOf(InvalidOptionError);
    expect(empty.message).toBe(
      'nodes must be a non-empty array (an ioredis client, ioredis options or a redis:// URL per node), got an empty array',
    );
    for (const bad of ['http://127.0.0.1:6379', 'redis://[::1', 'redis://127.0.0.1:99999']) {
      const error = thrownBy(() => new Redlock([hole.url, bad]));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error.message).toMatch(/^nodes\[1\] must be a redis:\/\/ or rediss:\/\/ URL, a unix socket path or a port \(.+\), got "/);
    }
    await sleep(100);
    expect(hole.accepted).toBe(0);
  });
});

describe('Redlock refuses a TTL below capabilities.minTtlMs', () => {
  it('on tryLock, lock, renew, handle.extend and LockService, before any I/O and changing nothing', async () => {
    const lock = open();
    expect(lock.capabilities.minTtlMs).toBe(10);
    const key = uniqueKey('redlock-min-ttl');
    const before = await settledScriptCalls();
    const acquireError = await lock.tryLock(key, { ttl: 5 }).catch((e: unknown) => e);
    expect(acquireError).toBeInstanceOf(InvalidOptionError);
    expect((acquireError as Error).message).toMatch(/^ttl must be an integer >= 10 \(milliseconds; Redlock's minimum.*\), got 5 \(number\)$/);
    await expect(lock.lock(key, { ttl: 9, waitTimeout: 1_000 })).rejects.toBeInstanceOf(InvalidOptionError);
    let ran = false;
    const service = new LockService(lock, { ttl: 5 });
    await expect(service.withLock(key, async () => void (ran = true))).rejects.toBeInstanceOf(InvalidOptionError);
    expect(ran).toBe(false);
    // The core's checks still come first: a bad key is named before the TTL.
    await expect(lock.tryLock('', { ttl: 5 })).rejects.toThrow(/^key must be/);
    expect(await allScriptCalls()).toEqual(before);
    expect(await holdersOf(direct, key)).toEqual([]);

    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    const validUntil = h.validUntil;
    const afterAcquire = await settledScriptCalls();
    await expect(h.extend(5)).rejects.toThrow(/^ttl must be an integer >= 10 /);
    await expect(lock.renew(h, 9)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(await allScriptCalls()).toEqual(afterAcquire);
    expect(h.held).toBe(true);
    expect(h.validUntil).toBe(validUntil);
    const pttls = await Promise.all(direct.map((c) => c.pttl(lockKeyOf(key))));
    expect(Math.min(...pttls)).toBeGreaterThan(5_000); // still the 10 s lease, not 5 ms
    await h.release();

    // The minimum itself is accepted (whether such a short lease is won depends on the round trip).
    const short = await lock.tryLock(uniqueKey('redlock-min-ttl-edge'), { ttl: 10 });
    await short?.release().catch(() => undefined);
  });

  it('defaultTtl is checked in the constructor, and the minimum grows with the drift allowance', async () => {
    const tooShort = thrownBy(() => new Redlock([hole.url], { defaultTtl: 5 }));
    expect(tooShort).toBeInstanceOf(InvalidOptionError);
    expect(tooShort.message).toMatch(/^defaultTtl must be an integer >= 10 .*, got 5 \(number\)$/);
    // validity = ttl * 0.99 - 50 is positive only from 51 ms on.
    expect(thrownBy(() => new Redlock([hole.url], { driftMs: 50, defaultTtl: 50 })).message).toMatch(/^defaultTtl must be an integer >= 51 /);
    // With no defaultTtl given, the default 30 s is checked too.
    expect(thrownBy(() => new Redlock([hole.url], { driftMs: 40_000 }))).toBeInstanceOf(InvalidOptionError);
    await sleep(100);
    expect(hole.accepted).toBe(0);

    const lock = open(urls(), { driftMs: 50 });
    expect(lock.capabilities.minTtlMs).toBe(51);
    const key = uniqueKey('redlock-min-ttl-drift');
    await expect(lock.tryLock(key, { ttl: 50 })).rejects.toThrow(/^ttl must be an integer >= 51 /);
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    await h.release();
  });
});

describe('Redlock: misspelt options', () => {
  it('a misspelt constructor option is an InvalidOptionError naming the closest one, before any connection', () => {
    const make = () => new Redlock(['redis://127.0.0.1:1'], { nodeTimout: 50 } as never);
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(/unknown option "nodeTimout" for new Redlock\(\): did you mean "nodeTimeout"\?/);
  });

  it('maxLocalHandOvers is not an option of Redlock (it never hands a lock over): refused, before any connection', async () => {
    const error = thrownBy(() => new Redlock([hole.url], { maxLocalHandOvers: 2 } as never));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.message).toMatch(/unknown option "maxLocalHandOvers" for new Redlock\(\)/);
    expect(thrownBy(() => new Redlock([hole.url], { nodeTimout: 50 } as never))).toBeInstanceOf(InvalidOptionError);
    expect(thrownBy(() => new Redlock([hole.url], null as never)).message).toMatch(/^options must be an object/);
    await sleep(100);
    expect(hole.accepted).toBe(0);
  });
});
