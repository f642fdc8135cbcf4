import { LockNotHeldError, LockReleasedError } from '@dlock/core';
import { startRedis, startTcpProxy, uniqueKey, waitFor, type RedisServer, type TcpProxy } from '@dlock/testkit';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resignLatchKey } from '../src/election/keys.js';
import { RedisElection } from '../src/index.js';
import { adminClient } from './helpers/redis.js';

// A resign whose reply is lost on the way back: the script ran on the server, then the link broke.
// ioredis sends the unanswered EVALSHA again after it reconnects; the second run must find the
// latch the first one left and report the resign, not a lost leadership.
const OPERATION_TIMEOUT = 3_000;
let server: RedisServer;
let admin: Redis;
let proxy: TcpProxy | undefined;
const opened: RedisElection[] = [];

beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((e) => e.close()));
  await proxy?.stop();
  proxy = undefined;
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function throughProxy(): Promise<{ election: RedisElection; proxy: TcpProxy }> {
  const p = (proxy = await startTcpProxy({ port: server.port }));
  const election = new RedisElection({ host: '127.0.0.1', port: p.port }, { operationTimeout: OPERATION_TIMEOUT });
  opened.push(election);
  // Load every script first: a first EVALSHA is answered NOSCRIPT, and that answer must not be
  // the one the test drops.
  const warm = await election.campaign(uniqueKey(), 'warm', { ttl: 10_000, autoRenew: false });
  await warm.extend();
  await warm.resign();
  return { election, proxy: p };
}

describe('RedisElection: a resign re-sent after a lost reply', () => {
  it('reports the resign, not a lost leadership, and changes the election once', async () => {
    const { election, proxy: p } = await throughProxy();
    const name = uniqueKey();
    const keys = election.keysFor(name);
    const leadership = await election.campaign(name, 'pod-a', { ttl: 60_000 });
    p.loseReplies();
    const resigning = leadership.resign();
    resigning.catch(() => undefined);
    await waitFor(async () => (await admin.exists(keys.leader)) === 0, 5_000);
    expect(p.cut()).toBeGreaterThan(0); // the reply was held back, now the link breaks: ioredis re-sends
    await expect(resigning).resolves.toBeUndefined();
    expect(leadership.held).toBe(false);
    expect(leadership.signal.reason).toBeInstanceOf(LockReleasedError);
    expect(await election.leader(name)).toBeNull();
    // One change, not two: the re-run found the latch and neither counted nor published again.
    expect(BigInt((await admin.get(keys.counter))!)).toBe(leadership.term + 1n);
    // The election goes on: the next candidate is elected with a higher term.
    const next = await election.campaign(name, 'pod-b', { ttl: 10_000, waitTimeout: 5_000 });
    expect(next.term).toBeGreaterThan(leadership.term);
    await next.resign();
  });

  it('the latch is short-lived, and a resign of a lost leadership still says so', async () => {
    const { election } = await throughProxy();
    const name = uniqueKey();
    const keys = election.keysFor(name);
    const lost = await election.campaign(name, 'pod-a', { ttl: 60_000, autoRenew: false });
    await admin.del(keys.leader); // someone removed it: a real loss
    await expect(lost.resign()).rejects.toBeInstanceOf(LockNotHeldError);
    expect(await admin.exists(resignLatchKey(keys, lost.token))).toBe(0);

    const leadership = await election.campaign(name, 'pod-b', { ttl: 60_000 });
    await leadership.resign();
    const latch = resignLatchKey(keys, leadership.token);
    expect(latch.startsWith(`${keys.leader}:resigned:`)).toBe(true);
    const pttl = await admin.pttl(latch);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(OPERATION_TIMEOUT * 2);
  });
});
