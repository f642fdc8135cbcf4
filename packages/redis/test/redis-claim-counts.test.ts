import { setTimeout as sleep } from 'node:timers/promises';
import { Admission, type Claim } from '@dlock/core';
import { startRedis, uniqueKey, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimLatchKey, redisClaimKeys, type RedisClaimKeys } from '../src/claims/keys.js';
import { claimArgs, claimScripts } from '../src/claims/scripts.js';
import { RedisSemaphore } from '../src/index.js';
import { adminClient, commandCalls } from './helpers/redis.js';

// The claim scripts keep running counts of a key's holders and waiters (claim-lib.lua) and name the
// waiters a release admits. These tests hold them to core's Admission rule, replayed on a model.
let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

const LEASE = 600_000;
const PLACE = 600_000;

interface Entry {
  readonly token: string;
  readonly claim: Claim;
}

/** The key as core's rule sees it: holders, and the wait list in order. */
class Model {
  holders: Entry[] = [];
  queue: Entry[] = [];

  fits(claim: Claim, before: readonly Entry[]): boolean {
    const group = new Admission();
    for (const e of [...this.holders, ...before]) group.add(e.claim);
    return group.fits(claim);
  }

  /** The waiters admitted now: the longest head of the queue whose every member fits. */
  admissible(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.queue.length; i++) {
      if (!this.fits(this.queue[i]!.claim, this.queue.slice(0, i))) break;
      out.push(this.queue[i]!.token);
    }
    return out;
  }

  counts(): string {
    const side = (entries: Entry[]) => {
      const of = (kind: Claim['kind']) => entries.filter((e) => e.claim.kind === kind);
      const used = of('permits').reduce((n, e) => n + (e.claim.kind === 'permits' ? e.claim.permits : 0), 0);
      return [of('exclusive').length, of('shared').length, of('permits').length, used];
    };
    return [...side(this.holders), ...side(this.queue)].join(' ');
  }
}

/** A small deterministic generator (the sequence is the same on every run). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const acquire = (k: RedisClaimKeys, token: string, claim: Claim, waiting: 0 | 1, limit?: number) => {
  const [kind, permits, claimLimit] = claimArgs(claim);
  return claimScripts.acquire.run(admin, [k.holders, k.queue, k.claims, k.fence, token, LEASE, kind, permits, limit ?? claimLimit, waiting, PLACE, LEASE, k.channel]);
};

/** The stored counts without the purge time: 'hx hs hp hu wx ws wp wu'; and lim and purge. */
async function storedCounts(k: RedisClaimKeys): Promise<{ counts: string; lim: number; purge: number } | null> {
  const stored = await admin.hget(k.claims, '#counts');
  if (stored === null) return null;
  const fields = stored.split(' ');
  return { counts: fields.slice(0, 8).join(' '), lim: Number(fields[8]), purge: Number(fields[9]) };
}

describe('Redis claim scripts: running counts and named waiters', () => {
  it('admit, refuse, release and leave as core’s Admission rule does, keeping exact counts, over 600 random steps', async () => {
    const k = redisClaimKeys('counts', uniqueKey());
    const model = new Model();
    const next = random(7);
    let n = 0;
    const token = () => (++n).toString(16).padStart(32, '0');
    const claims: Claim[] = [
      { kind: 'exclusive' },
      { kind: 'shared' },
      { kind: 'shared' },
      { kind: 'permits', permits: 1, limit: 4 },
      { kind: 'permits', permits: 1, limit: 4 },
      { kind: 'permits', permits: 3, limit: 4 },
    ];
    const seen = { admitted: 0, refused: 0, named: 0, mismatches: 0 };
    for (let step = 0; step < 600; step++) {
      const r = next();
      if (r < 0.4 || (model.holders.length === 0 && model.queue.length === 0)) {
        // A newcomer (waiting, or a single attempt), now and then with another limit.
        const claim = claims[Math.floor(next() * claims.length)]!;
        const waiting = next() < 0.8 ? 1 : 0;
        const t = token();
        // Now and then another limit, while the key has permits claims (all of limit 4).
        if (claim.kind === 'permits' && next() < 0.15 && [...model.holders, ...model.queue].some((e) => e.claim.kind === 'permits')) {
          expect(await acquire(k, t, claim, waiting, 5), `step ${step}`).toEqual({ outcome: 'limit', currentLimit: 4 });
          seen.mismatches++;
          continue;
        }
        const reply = await acquire(k, t, claim, waiting);
        const fits = model.fits(claim, model.queue);
        expect(reply.outcome, `step ${step}: newcomer ${claim.kind}`).toBe(fits ? 'admitted' : 'wait');
        if (fits) model.holders.push({ token: t, claim });
        else if (waiting === 1) model.queue.push({ token: t, claim });
        seen[fits ? 'admitted' : 'refused']++;
      } else if (r < 0.6 && model.queue.length > 0) {
        // A queued caller comes back.
        const i = Math.floor(next() * model.queue.length);
        const e = model.queue[i]!;
        const fits = model.fits(e.claim, model.queue.slice(0, i));
        const reply = await acquire(k, e.token, e.claim, 1);
        expect(reply.outcome, `step ${step}: waiter ${i} ${e.claim.kind}`).toBe(fits ? 'admitted' : 'wait');
        if (fits) {
          model.queue.splice(i, 1);
          model.holders.push(e);
        }
      } else if (r < 0.9 && model.holders.length > 0) {
        const [e] = model.holders.splice(Math.floor(next() * model.holders.length), 1);
        const reply = await claimScripts.release.run(admin, [k.holders, k.queue, k.claims, claimLatchKey(k, e!.token), e!.token, k.channel, 'test', 0]);
        expect(reply, `step ${step}: release`).toEqual({ outcome: 'released', admitted: model.admissible() });
        seen.named += model.admissible().length;
      } else if (model.queue.length > 0) {
        const [e] = model.queue.splice(Math.floor(next() * model.queue.length), 1);
        const reply = await claimScripts.leave.run(admin, [k.holders, k.queue, k.claims, e!.token, k.channel, 'test']);
        expect(reply, `step ${step}: leave`).toEqual({ left: true, admitted: model.admissible() });
      }
      const stored = await storedCounts(k);
      if (model.holders.length + model.queue.length === 0) {
        expect(stored, `step ${step}`).toBeNull();
        continue;
      }
      expect(stored?.counts, `step ${step}`).toBe(model.counts());
      if ([...model.holders, ...model.queue].some((e) => e.claim.kind === 'permits')) expect(stored?.lim).toBe(4);
      expect(stored!.purge > 0, `step ${step}: purge time set while callers wait`).toBe(model.queue.length > 0);
    }
    // The walk went through every kind of step.
    expect(seen.admitted).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
    expect(seen.named).toBeGreaterThan(20);
    expect(seen.mismatches).toBeGreaterThan(0);
  });

  it('counts missing or unreadable (an earlier version wrote the key) are taken again from the holders and waiters', async () => {
    const k = redisClaimKeys('counts', uniqueKey());
    const reader = 'a'.repeat(32);
    const writer = 'b'.repeat(32);
    expect(await acquire(k, reader, { kind: 'shared' }, 1)).toMatchObject({ outcome: 'admitted' });
    expect(await acquire(k, writer, { kind: 'exclusive' }, 1)).toMatchObject({ outcome: 'wait' });
    const before = await storedCounts(k);
    await admin.hdel(k.claims, '#counts');
    // A reader is held back by the queued writer, as before.
    expect(await acquire(k, 'c'.repeat(32), { kind: 'shared' }, 0)).toMatchObject({ outcome: 'wait' });
    expect(await storedCounts(k)).toEqual(before);
    await admin.hset(k.claims, '#counts', 'garbage');
    expect(await claimScripts.release.run(admin, [k.holders, k.queue, k.claims, claimLatchKey(k, reader), reader, k.channel, 'test', 0])).toEqual({
      outcome: 'released',
      admitted: [writer],
    });
    expect((await storedCounts(k))?.counts).toBe('0 0 0 0 1 0 0 0');
  });

  it('a place that ended is purged by the next call, which names the waiters that admits (with an empty id)', async () => {
    const k = redisClaimKeys('counts', uniqueKey());
    const listener = admin.duplicate();
    try {
      const messages: string[] = [];
      listener.on('message', (_channel: string, message: string) => messages.push(message));
      await listener.subscribe(k.channel);
      const run = (token: string, claim: Claim, ttl: number, placeMs: number, waiting: 0 | 1) => {
        const [kind, permits, limit] = claimArgs(claim);
        return claimScripts.acquire.run(admin, [k.holders, k.queue, k.claims, k.fence, token, ttl, kind, permits, limit, waiting, placeMs, LEASE, k.channel]);
      };
      // A reader holds for 100 ms; a writer queues with a place of 100 ms past that and dies; a
      // reader queues behind it for long.
      expect(await run('a'.repeat(32), { kind: 'shared' }, 100, 0, 0)).toMatchObject({ outcome: 'admitted' });
      expect(await run('b'.repeat(32), { kind: 'exclusive' }, LEASE, 100, 1)).toMatchObject({ outcome: 'wait' });
      expect(await run('c'.repeat(32), { kind: 'shared' }, LEASE, 60_000, 1)).toMatchObject({ outcome: 'wait' });
      await sleep(350);
      expect(messages).toEqual([]);
      // A single attempt of another reader: the holder and the writer's place are gone; it is
      // admitted as queued last (behind the waiting reader), and the waiting reader is named.
      expect(await run('d'.repeat(32), { kind: 'shared' }, LEASE, 0, 0)).toMatchObject({ outcome: 'admitted' });
      await sleep(50);
      expect(messages).toEqual([` ${'c'.repeat(32)}`]);
      expect((await storedCounts(k))?.counts).toBe('0 1 0 0 0 1 0 0');
      expect(await admin.zrange(k.queue, '0', '-1')).toEqual(['c'.repeat(32)]);
    } finally {
      listener.disconnect();
    }
  });

  it('a release wakes only the waiters it admits: about three scripts per acquisition on a busy key of two instances', async () => {
    const key = uniqueKey();
    const clients = [new Redis({ host: server.host, port: server.port }), new Redis({ host: server.host, port: server.port })];
    const [a, b] = clients.map((client) => new RedisSemaphore(client));
    try {
      // Subscriptions and scripts loaded before counting.
      await Promise.all([a!, b!].map(async (sem) => (await sem.acquire(key, { limit: 2 })).release()));
      const before = await commandCalls(admin);
      let acquisitions = 0;
      const worker = async (sem: RedisSemaphore) => {
        for (let i = 0; i < 8; i++) {
          const permit = await sem.acquire(key, { limit: 2, ttl: 30_000 });
          acquisitions++;
          await sleep(1);
          await permit.release();
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i % 2 === 0 ? a! : b!)));
      const after = await commandCalls(admin);
      const scripts = (after.evalsha ?? 0) - (before.evalsha ?? 0) + (after.eval ?? 0) - (before.eval ?? 0);
      expect(acquisitions).toBe(128);
      // Per acquisition: its first attempt, the one after it was named, its release. Waking every
      // waiter a release might admit (and every one mid-attempt) cost ~4 times as many.
      expect(scripts / acquisitions).toBeLessThan(3.75);
      const k = a!.keysFor(key);
      expect(await admin.exists(k.holders, k.queue, k.claims)).toBe(0);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
      for (const c of clients) c.disconnect();
    }
  });
});
