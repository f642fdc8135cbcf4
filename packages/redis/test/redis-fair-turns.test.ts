import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueKey, waitFor } from '@dlock/testkit';
import { describe, expect, it } from 'vitest';
import { RedisLock, redisLockKeys, redisWaitListKeys } from '../src/index.js';
import { redisServerPerFile } from './helpers/redis-file.js';

// Fair RedisLock by instance turns: the server's line holds one place per instance and key, the
// instance's other waiters queue behind it locally, and a turn serves the waiters the instance
// had queued when it began (by hand-over), then the key goes on in the line's order.
const fx = redisServerPerFile();
const { open } = fx;

const line = (key: string) => redisWaitListKeys(redisLockKeys('dlock', key)).waiters;

describe('fair: instance turns', () => {
  it('waiters queued behind a place of their own instance take no place on the server, and are served in arrival order', async () => {
    const [a, b] = [open(), open()];
    const key = uniqueKey();
    const holder = (await b.tryLock(key, { ttl: 30_000 }))!;
    const order: number[] = [];
    const fences: bigint[] = [];
    const waiters = [0, 1, 2, 3].map(async (i) => {
      await sleep(i * 40);
      const h = await a.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
      order.push(i);
      fences.push(h.fencingToken);
      await h.release();
    });
    await sleep(250);
    // Four waiters in a, one place: the first one's.
    expect(await fx.admin.zcard(line(key))).toBe(1);
    await holder.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3]);
    // One acquisition, then hand-overs: each a new fence, one above the last.
    expect(fences.map((f) => f - fences[0]!)).toEqual([0n, 1n, 2n, 3n]);
    expect(await fx.admin.exists(line(key))).toBe(0);
  });

  it('a turn serves the waiters its instance had queued when it began; one that comes during the turn waits for the next', async () => {
    const [a, b, c] = [open(), open(), open()];
    const key = uniqueKey();
    const holder = (await c.tryLock(key, { ttl: 30_000 }))!;
    const order: string[] = [];
    const take = (lock: RedisLock, name: string, holdMs: number) =>
      lock.lock(key, { ttl: 30_000, waitTimeout: 10_000 }).then(async (h) => {
        order.push(name);
        await sleep(holdMs);
        await h.release();
      });
    const waiters = [take(a, 'a1', 150)];
    await sleep(50);
    waiters.push(take(b, 'b1', 5));
    await sleep(50);
    waiters.push(take(a, 'a2', 5)); // behind a1's place, before a's turn begins
    await sleep(50);
    await holder.release();
    await waitFor(() => order.length === 1, 2_000);
    waiters.push(take(a, 'a3', 5)); // during a's turn: behind b1 in the line
    await Promise.all(waiters);
    // Arrival order would be a1, b1, a2, a3; by turns a's turn takes a1 and a2, then b1, then a3.
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3']);
  });

  it('a waiter that gives up its instance place passes it on: the next waiter of that instance takes a place at once', async () => {
    // maxRetryDelay far above the test's bounds: only the hand-on can bring the next waiter in.
    const a = open({ maxRetryDelay: 30_000 });
    const [b, c] = [open(), open()];
    const key = uniqueKey();
    const holder = (await b.tryLock(key, { ttl: 30_000 }))!;
    const quitter = new AbortController();
    const first = a.lock(key, { ttl: 30_000, signal: quitter.signal }).catch((e: unknown) => e);
    await waitFor(async () => (await fx.admin.zcard(line(key))) === 1, 2_000);
    const [a1] = await fx.admin.zrange(line(key), '0', '-1');
    const other = c.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
    await waitFor(async () => (await fx.admin.zcard(line(key))) === 2, 2_000);
    const second = a.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
    await sleep(100);
    expect(await fx.admin.zcard(line(key))).toBe(2); // a's second waiter waits behind a1's place
    quitter.abort(new Error('gave up'));
    await waitFor(async () => {
      const tokens = await fx.admin.zrange(line(key), '0', '-1');
      return tokens.length === 2 && !tokens.includes(a1!);
    }, 2_000);
    expect(String(await first)).toContain('gave up');
    await holder.release();
    const h1 = await other;
    await h1.release();
    const h2 = await second; // its place came up next: told at once, long before maxRetryDelay
    expect(h2.fencingToken).toBeGreaterThan(h1.fencingToken);
    await h2.release();
  });

  it('waiters behind their instance place keep still through a long hold: their naps end with no call and no place of their own', async () => {
    // Naps of ~100 ms against a hold of 1.2 s: each waiter behind the place wakes ~12 times.
    const a = open({ maxRetryDelay: 100 });
    const b = open();
    const key = uniqueKey();
    const holder = (await b.tryLock(key, { ttl: 30_000 }))!;
    const order: number[] = [];
    const waiters = [0, 1, 2, 3].map(async (i) => {
      await sleep(i * 20);
      const h = await a.lock(key, { ttl: 30_000, waitTimeout: 10_000 });
      order.push(i);
      await h.release();
    });
    await sleep(200);
    const before = await scriptCalls();
    await sleep(1_000);
    const during = (await scriptCalls()) - before;
    // One place in the line, the first waiter's; the place holder's own naps may refresh it,
    // the three behind it send nothing (they used to take a place each, every nap).
    expect(await fx.admin.zcard(line(key))).toBe(1);
    expect(during).toBeLessThanOrEqual(3); // ~30 when each nap that ended took a place
    await holder.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3]);
  });
});

/** Script calls the server has run so far (INFO commandstats: EVALSHA and EVAL). */
async function scriptCalls(): Promise<number> {
  const info = await fx.admin.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}
