import { startRedisNodes, uniqueKey, type RedisServer, type ServerGroup } from '@dlock/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redlock } from '../src/index.js';
import { directClients, fenceKeyOf, whilePaused } from './helpers.js';

let nodes: ServerGroup<RedisServer>;
let direct: ReturnType<typeof directClients>;
const opened: Redlock[] = [];
const open = (options: ConstructorParameters<typeof Redlock>[1] = {}): Redlock => {
  const lock = new Redlock(
    nodes.map((n) => n.url),
    // Generous: these tests are about tokens, not timing, and CI machines are busy.
    { nodeTimeout: 500, ...options },
  );
  opened.push(lock);
  return lock;
};

beforeAll(async () => {
  nodes = await startRedisNodes(5);
  direct = directClients(nodes);
});
afterAll(async () => {
  direct?.close();
  await nodes?.stop();
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
});

describe('Redlock fencing tokens', () => {
  it('stay monotonic when node counters diverge and the next quorum misses the highest one', async () => {
    const a = open();
    const b = open();
    const key = uniqueKey('redlock-fence-diverged');
    await Promise.all([a.isLocked(key), b.isLocked(key)]);
    // Node 0's counter is far ahead of the others'.
    const high = 5_000_000_000_000_000n;
    await direct[0]!.set(fenceKeyOf(key), high.toString());

    // A's quorum must include node 0 (nodes 1, 2 are stopped): its token comes from node 0.
    const first = await whilePaused(nodes, [1, 2], async () => {
      const h = (await a.tryLock(key, { ttl: 10_000 }))!;
      expect(h).not.toBeNull();
      expect(h.fencingToken).toBe(high + 1n);
      // The fencing round wrote the token back to A's quorum (nodes 0, 3, 4).
      for (const i of [0, 3, 4]) expect(await direct[i]!.get(fenceKeyOf(key))).toBe((high + 1n).toString());
      await h.release();
      return h.fencingToken;
    });

    // B's quorum cannot include node 0. Max-over-the-quorum alone would give B a token far
    // below A's; the written-back counters of nodes 3 and 4 keep it above.
    await whilePaused(nodes, [0], async () => {
      const h = (await b.tryLock(key, { ttl: 10_000 }))!;
      expect(h).not.toBeNull();
      expect(h.fencingToken).toBeGreaterThan(first);
      const info = await b.inspect(key);
      expect(info?.fencingToken).toBe(h.fencingToken);
      await h.release();
    });
  });

  it('strictly increase across interleaved instances with a different node stopped each round', async () => {
    const locks = [open(), open(), open()];
    const key = uniqueKey('redlock-fence-rounds');
    await Promise.all(locks.map((l) => l.isLocked(key)));
    const tokens: bigint[] = [];
    for (let round = 0; round < 5; round++) {
      await whilePaused(nodes, [round], async () => {
        const h = await locks[round % 3]!.lock(key, { ttl: 10_000, waitTimeout: 5_000 });
        tokens.push(h.fencingToken);
        await h.release();
      });
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
  });

  it("fencing: 'none' skips the fencing round: tokens are 0n and no counter is written", async () => {
    const a = open({ fencing: 'none' });
    expect(a.capabilities.fencing).toBe('none');
    const key = uniqueKey('redlock-fence-none');
    const h = (await a.tryLock(key))!;
    expect(h.fencingToken).toBe(0n);
    expect((await a.inspect(key))?.fencingToken).toBe(0n);
    await h.release();
    expect(await Promise.all(direct.map((c) => c.exists(fenceKeyOf(key))))).toEqual([0, 0, 0, 0, 0]);
  });
});
