import { setTimeout as sleep } from 'node:timers/promises';
import { LockNotHeldError, LockReleasedError } from '@dlock/core';
import { startRedisNodes, startTcpProxy, uniqueKey, waitFor, type RedisServer, type ServerGroup, type TcpProxy } from '@dlock/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redlock } from '../src/index.js';
import { collectUnhandled, directClients, holdersOf, lockKeyOf } from './helpers.js';

// A connection that breaks after a command ran on the server but before its reply came back:
// ioredis reconnects and sends the command again (autoResendUnfulfilledCommands), so every
// script runs twice there. Every node is reached through a proxy that can lose the replies and
// then cut the connection; losing those of 2 of the 3 nodes makes a quorum depend on re-sent runs.
//
// The node timeout is generous: it bounds silence, and here a node is silent from the moment
// its replies are dropped until the reconnect (tens of ms, more on a loaded machine).
const NODE_TIMEOUT = 5_000;

let nodes: ServerGroup<RedisServer>;
let direct: ReturnType<typeof directClients>;
let proxies: TcpProxy[];
let unhandled: ReturnType<typeof collectUnhandled>;
const opened: Redlock[] = [];

const open = (): Redlock => {
  const lock = new Redlock(proxies.map((p) => `redis://127.0.0.1:${p.port}`), { nodeTimeout: NODE_TIMEOUT });
  opened.push(lock);
  return lock;
};

/**
 * Loses the replies of the first `count` nodes to what is sent next, waits until `ranThere`
 * shows it ran on them, then cuts their connections.
 */
async function loseRepliesUntil(count: number, ranThere: () => Promise<boolean>): Promise<void> {
  const losing = proxies.slice(0, count);
  for (const p of losing) p.loseReplies();
  await waitFor(ranThere, 10_000);
  for (const p of losing) p.cut();
}

/** Whether `key`'s lock is gone on the first `count` nodes. */
const goneOnFirst = (count: number, key: string) => async () =>
  (await holdersOf(direct.slice(0, count), key)).length === 0;

beforeAll(async () => {
  nodes = await startRedisNodes(3);
  direct = directClients(nodes);
});
afterAll(async () => {
  direct?.close();
  await nodes?.stop();
});
beforeEach(async () => {
  proxies = await Promise.all(nodes.map((n) => startTcpProxy({ port: n.port })));
  unhandled = collectUnhandled();
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
  await Promise.all(proxies.map((p) => p.stop()));
  await sleep(50);
  expect(unhandled.stop()).toEqual([]);
});

describe('Redlock commands re-sent after a reconnect', () => {
  it('a release that ran before its replies were lost still counts as released (release latch)', async () => {
    const lock = open();
    const key = uniqueKey('redlock-resent-release');
    const h = (await lock.tryLock(key, { ttl: 30_000 }))!;
    expect(h).not.toBeNull();
    await waitFor(async () => (await holdersOf(direct, key)).length === 3, 5_000);

    const released = h.release();
    await loseRepliesUntil(2, goneOnFirst(2, key));
    // The second run on nodes 0 and 1 finds the key gone, and the latch of the first run.
    await expect(released).resolves.toBeUndefined();
    expect(h.signal.reason).toBeInstanceOf(LockReleasedError);
    // Decided at a quorum: node 2 and at least one re-sent run (the other may still be reconnecting).
    expect(Math.max(...proxies.map((p) => p.accepted))).toBe(2);
    await waitFor(() => proxies[0]!.accepted === 2 && proxies[1]!.accepted === 2, 5_000);
    expect(await holdersOf(direct, key)).toEqual([]);

    // The latch is short-lived: twice the longest a release reply is waited for (20 node timeouts).
    const latch = `${lockKeyOf(key)}:released:${h.token}`;
    const latchTtls = await Promise.all(direct.map((c) => c.pttl(latch)));
    for (const pttl of latchTtls) {
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(2 * 20 * NODE_TIMEOUT);
    }
    // The key is free for the next holder at once.
    const next = await open().tryLock(key);
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('an extension re-sent after its own release ran does not report the lock lost', async () => {
    const lock = open();
    const key = uniqueKey('redlock-resent-extend-release');
    const h = (await lock.tryLock(key, { ttl: 30_000 }))!;
    expect(h).not.toBeNull();
    await waitFor(async () => (await holdersOf(direct, key)).length === 3, 5_000);

    // On each connection: extend, then release. Both run; both replies are lost on every node;
    // both are re-sent, so the extension's second run comes after the release and finds the
    // key gone. Its verdict ("gone on a quorum") arrives with the release's, just before it.
    const extended = h.extend(30_000).catch((e: unknown) => e);
    const released = h.release();
    await loseRepliesUntil(3, goneOnFirst(3, key));
    await expect(released).resolves.toBeUndefined();
    expect(h.signal.reason).toBeInstanceOf(LockReleasedError);
    const extendOutcome = await extended;
    expect(extendOutcome).toBeInstanceOf(LockNotHeldError);
    expect((extendOutcome as Error).message).toMatch(/a release of it was sent/);
    expect(await holdersOf(direct, key)).toEqual([]);
  });

  it('an acquire re-sent with its own token takes the lock again instead of failing', async () => {
    const lock = open();
    const key = uniqueKey('redlock-resent-acquire');
    const acquiring = lock.tryLock(key, { ttl: 30_000 });
    await loseRepliesUntil(2, async () => (await holdersOf(direct.slice(0, 2), key)).length === 2);
    const h = await acquiring;
    expect(h).not.toBeNull();
    expect(await Promise.all(direct.map((c) => c.get(lockKeyOf(key))))).toEqual([h!.token, h!.token, h!.token]);
    await h!.release();
    // Decided at a quorum; the last node's release lands just after. Nothing is left behind
    // (a stale lease would stay for the whole 30 s TTL).
    await waitFor(async () => (await holdersOf(direct, key)).length === 0, 2_000);
  });

  it('an extension re-sent after a reconnect extends (it is idempotent)', async () => {
    const lock = open();
    const key = uniqueKey('redlock-resent-extend');
    const h = (await lock.tryLock(key, { ttl: 10_000 }))!;
    expect(h).not.toBeNull();
    const extending = h.extend(120_000);
    await loseRepliesUntil(2, async () => {
      const pttls = await Promise.all(direct.slice(0, 2).map((c) => c.pttl(lockKeyOf(key))));
      return pttls.every((t) => t > 60_000);
    });
    await expect(extending).resolves.toBeUndefined();
    expect(h.held).toBe(true);
    expect(h.validUntil - performance.now()).toBeGreaterThan(60_000);
    await h.release();
  });
});
