import { setTimeout as sleep } from 'node:timers/promises';
import { LockService, type LockHandle } from '@dlock/core';
import { startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisLock } from '../src/index.js';
import { RENEW_MANY_CHUNK, renewManyScript } from '../src/renew-batch.js';
import { adminClient, clientAddress, commandCalls, monitor, recordPipelines } from './helpers/redis.js';

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

it('1000 auto-renewed locks of one client are renewed in one pipeline of renew-many calls per watchdog tick (seen by MONITOR)', async () => {
  const client = new Redis({ host: server.host, port: server.port });
  // Count round trips as the client sees them: every pipeline the lock builds.
  const pipelineSizes = recordPipelines(client);
  const lock = new RedisLock(client);
  const service = new LockService(lock);
  const ttl = 1_500; // renewed every 500 ms
  try {
    const base = uniqueKey();
    await (await lock.lock(`${base}:warm-up`)).release(); // scripts cached: no NOSCRIPT in the counts
    // Observers first: the watchdog must start right after the locks are taken (their TTL runs
    // from the acquire), not after a few more round trips on a busy machine.
    const address = await clientAddress(client);
    const recorder = await monitor(server.port);
    const callsBefore = await commandCalls(admin);
    const handles = (await Promise.all(
      Array.from({ length: 1000 }, (_, i) => lock.tryLock(`${base}:${i}`, { ttl })),
    )) as LockHandle[];
    const stops = handles.map((h) => service.autoRenew(h));
    expect(handles.every((h) => h !== null)).toBe(true);
    await sleep(1_700); // about 3 ticks (at ~500, ~1000, ~1500 ms); without them the 1.5 s TTL runs out
    stops.forEach((stop) => stop());
    // A marker sent on the same connection after the last pipeline: once MONITOR shows it,
    // it has shown every renewal before it.
    const marker = `end-of-renewals:${base}`;
    await client.echo(marker);
    await waitFor(() => recorder.commands.some((c) => c.args[1] === marker), 5_000);
    await recorder.stop();
    const callsAfter = await commandCalls(admin);

    // A renewal pipeline is one EVAL (which caches the script) and EVALSHAs of the renew-many
    // script, each renewing RENEW_MANY_CHUNK locks (KEYS: lock/fence pairs).
    const renewals = recorder.commands.filter(
      (c) =>
        c.source === address &&
        ((c.args[0]?.toLowerCase() === 'evalsha' && c.args[1] === renewManyScript.sha) || c.args[0]?.toLowerCase() === 'eval'),
    );
    const perCall = RENEW_MANY_CHUNK;
    const keysOf = (c: (typeof renewals)[number]) => c.args.slice(3, 3 + Number(c.args[2])).filter((_, i) => i % 2 === 0);
    expect(renewals.every((c) => keysOf(c).length === perCall)).toBe(true);
    // Round k = the k-th renewal of each key. Batched, every round renews all 1000 keys, and
    // rounds do not interleave on the server: one tick's renewals run back to back.
    const seen = new Map<string, number>();
    const roundOf = renewals.map((c) => {
      const rounds = keysOf(c).map((key) => {
        const round = seen.get(key) ?? 0;
        seen.set(key, round + 1);
        return round;
      });
      expect(new Set(rounds).size).toBe(1); // one call covers locks of one round
      return rounds[0]!;
    });
    const rounds = Math.max(...roundOf) + 1;
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(renewals).toHaveLength((rounds * 1000) / perCall);
    expect(seen.size).toBe(1000);
    for (let i = 1; i < roundOf.length; i++) expect(roundOf[i]!).toBeGreaterThanOrEqual(roundOf[i - 1]!);
    for (let round = 0; round < rounds; round++) {
      const tick = renewals.filter((_, i) => roundOf[i] === round);
      const spreadMs = (tick[tick.length - 1]!.time - tick[0]!.time) * 1000;
      expect(spreadMs).toBeLessThan(500);
    }
    // The server counted the same calls; and the client sent them as one pipeline per tick.
    const delta = (name: string) => (callsAfter[name] ?? 0) - (callsBefore[name] ?? 0);
    // (plus the 1000 acquires, which ran as EVALSHA of another script during the recording)
    expect(delta('evalsha')).toBe(rounds * (1000 / perCall - 1) + 1000);
    expect(delta('eval')).toBe(rounds);
    expect(pipelineSizes).toEqual(Array.from({ length: rounds }, () => 1000 / perCall));
    expect(handles.every((h) => h.held && !h.signal.aborted)).toBe(true);
    // 1.7 s after they were taken with a 1.5 s TTL, the locks are still held on the server.
    expect(await admin.pttl(lock.keysFor(`${base}:999`).lock)).toBeGreaterThan(0);
    await Promise.all(handles.map((h) => h.release()));
  } finally {
    await lock.close();
    client.disconnect();
  }
}, 30_000);
