import { redisElectionKeys } from '@dlock/redis';
import { startRedis, uniqueKey, waitFor, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resultKeys } from '../src/fenced-results.mjs';
import { electionPrefix, resultsPrefix } from '../src/names.mjs';
import { allEvents, anyEvent, Pod, type PodEvent } from './pods.js';

// Three processes of the example against a real redis-server: the job runs once per period, by
// the elected leader, with the runs never overlapping and the terms rising with each leader.
// Timing bounds are wide: a loaded 2-core machine may start a process or fire a timer late.
const PERIOD_MS = 1_000;
const TTL_MS = 1_500;

let redis: RedisServer;
let admin: Redis;
let pods: Pod[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterEach(async () => {
  await Promise.all(pods.map((p) => p.kill()));
  pods = [];
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

function startPods(job: string, jobMs: number): Pod[] {
  const env = { REDIS_URL: redis.url, JOB_NAME: job, PERIOD_MS: String(PERIOD_MS), TTL_MS: String(TTL_MS), JOB_MS: String(jobMs) };
  pods = ['pod-1', 'pod-2', 'pod-3'].map((name) => new Pod(name, env));
  return pods;
}

const is = (event: string, pod?: string) => (e: PodEvent) => e.event === event && (pod === undefined || e.pod === pod);
const written = (events: PodEvent[]) => events.filter((e) => e.event === 'job-finished' && e.outcome === 'written');
const term = (e: PodEvent) => BigInt(e.term as string);

/**
 * Stops the pods still running with SIGTERM, the candidates first (so that none is elected when
 * the leader resigns), then `leader`; each must exit 0.
 */
async function stopAll(leader: string): Promise<void> {
  const running = pods.filter((p) => p.running);
  for (const group of [running.filter((p) => p.name !== leader), running.filter((p) => p.name === leader)]) {
    group.forEach((p) => p.signal('SIGTERM'));
    const exits = await Promise.all(group.map((p) => p.exited));
    expect(exits.map((e) => e.code)).toEqual(group.map(() => 0));
    for (const p of group) expect(p.events.at(-1)?.event, p.name).toBe('stopped');
  }
  expect(pods.find((p) => p.name === leader)?.events.some(is('resigned'))).toBe(true);
}

/** The results in Redis: period -> { pod, term }. */
async function storedResults(job: string): Promise<Map<number, { pod: string; term: bigint }>> {
  const raw = await admin.hgetall(resultKeys(resultsPrefix, job).results);
  return new Map(Object.entries(raw).map(([period, json]) => {
    const r = JSON.parse(json) as { pod: string; term: string };
    return [Number(period), { pod: r.pod, term: BigInt(r.term) }];
  }));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Asserts that the numbers are consecutive. */
function expectConsecutive(periods: number[], what: string): void {
  periods.forEach((p, i) => i > 0 && expect(p, `${what}: ${periods.join(', ')}`).toBe(periods[i - 1]! + 1));
}

describe('cron-on-every-pod example (3 pods on one Redis)', () => {
  it('runs the job once per period on the leader; a SIGKILLed leader is replaced once its lease ends, with a higher term', async () => {
    const job = uniqueKey('cron');
    startPods(job, 200);
    await waitFor(() => written(allEvents(pods)).length >= 3, 25_000).catch(() => {
      throw new Error(`no 3 runs: ${JSON.stringify(allEvents(pods))} ${pods.map((p) => p.stderr).join('')}`);
    });
    const first = allEvents(pods).filter(is('elected'));
    expect(first).toHaveLength(1);
    const leader = pods.find((p) => p.name === first[0]!.pod)!;

    // Kill the leader during a run: no resign, no last write; only its lease ending frees the job.
    const run = await leader.next(is('job-started'), 5_000, leader.events.length);
    const beforeRead = Date.now();
    const leaseLeft = await admin.pttl(redisElectionKeys(electionPrefix, job).leader);
    leader.signal('SIGKILL');
    const killedAt = Date.now();
    expect((await leader.exited).signal).toBe('SIGKILL');
    expect(leaseLeft).toBeGreaterThan(0);

    const next = await anyEvent(pods, (e) => is('elected')(e) && e.pod !== leader.name, 15_000);
    // Not before the dead leader's lease ended (it ends at the earliest beforeRead + leaseLeft;
    // 5 ms for the clocks' millisecond rounding), and well within the TTL plus a wake-up after it.
    expect(next.t).toBeGreaterThanOrEqual(beforeRead + leaseLeft - 5);
    expect(next.t - killedAt).toBeLessThan(TTL_MS + 4_000);
    expect(term(next)).toBeGreaterThan(term(first[0]!));

    await waitFor(() => written(allEvents(pods)).filter((e) => e.pod === next.pod).length >= 2, 10_000);
    await stopAll(next.pod);

    const events = allEvents(pods);
    expect(events.filter(is('unparsed'))).toEqual([]);
    // Two leaders in all: the one killed, and the one elected after it (the third pod stayed a candidate).
    expect(events.filter(is('elected')).map((e) => e.pod)).toEqual([leader.name, next.pod]);
    expect(events.filter((e) => e.event === 'job-finished' && e.outcome !== 'written')).toEqual([]);

    // Each run starts in its period (or just after it began, on a late timer); every run
    // finished except the killed one.
    const starts = events.filter(is('job-started'));
    const finishes = events.filter(is('job-finished'));
    for (const s of starts) {
      const from = (s.period as number) * PERIOD_MS;
      expect(s.startedAt as number).toBeGreaterThanOrEqual(from);
      expect(s.startedAt as number).toBeLessThan(from + PERIOD_MS + 500);
    }
    const unfinished = starts.filter((s) => !finishes.some((f) => f.pod === s.pod && f.period === s.period));
    expect(unfinished.length).toBeLessThanOrEqual(1);
    if (unfinished.length === 1) expect(unfinished[0]).toEqual(run);

    // No two runs overlap in time (the killed one ends at the kill).
    const intervals = starts
      .map((s) => {
        const f = finishes.find((x) => x.pod === s.pod && x.period === s.period);
        return { pod: s.pod, start: s.startedAt as number, end: f === undefined ? killedAt : (f.finishedAt as number) };
      })
      .sort((a, b) => a.start - b.start);
    intervals.forEach((r, i) => i > 0 && expect(r.start, JSON.stringify(intervals)).toBeGreaterThanOrEqual(intervals[i - 1]!.end));

    // Once per period: each period written once; each leader ran consecutive periods; the store
    // holds exactly those results, and their terms never go down from one period to the next.
    const periods = written(events).map((e) => e.period as number);
    expect(new Set(periods).size).toBe(periods.length);
    for (const pod of [leader.name, next.pod]) {
      // A period passes without a run only if the pod reports it missed (paused longer than a period).
      const missed = events.filter(is('missed', pod)).flatMap((e) => range(e.from as number, e.to as number));
      const periodsOf = [...written(events).filter((e) => e.pod === pod).map((e) => e.period as number), ...missed].sort((a, b) => a - b);
      expectConsecutive(periodsOf, `${pod} ${JSON.stringify(events.filter((e) => e.pod === pod))}`);
    }
    const stored = await storedResults(job);
    expect([...stored.keys()].sort()).toEqual([...periods].sort());
    const byPeriod = [...stored.entries()].sort(([a], [b]) => a - b);
    byPeriod.forEach(([, r], i) => i > 0 && expect(r.term).toBeGreaterThanOrEqual(byPeriod[i - 1]![1].term));
    expect(byPeriod.at(-1)![1]).toEqual({ pod: next.pod, term: term(next) });
  }, 90_000);

  it('a leader paused past its lease (SIGSTOP) wakes to find its write refused by the fence; the new leader keeps the job', async () => {
    const job = uniqueKey('cron');
    startPods(job, 700); // a long run: the pause lands inside it
    await anyEvent(pods, (e) => e.event === 'job-finished' && e.outcome === 'written', 25_000);
    const leader = pods.find((p) => p.name === allEvents(pods).find(is('elected'))!.pod)!;

    const run = await leader.next(is('job-started'), 5_000, leader.events.length);
    leader.signal('SIGSTOP');
    const next = await anyEvent(pods, (e) => is('elected')(e) && e.pod !== leader.name, 15_000);
    const nextPod = pods.find((p) => p.name === next.pod)!;
    await nextPod.next((e) => e.event === 'job-finished' && e.outcome === 'written', 10_000);

    leader.signal('SIGCONT');
    const late = await leader.next((e) => is('job-finished')(e) && e.period === run.period, 10_000);
    expect(late).toMatchObject({ outcome: 'stale', term: run.term, fence: next.term });
    await leader.next(is('lost'), 10_000);
    await stopAll(next.pod);

    const events = allEvents(pods);
    expect(events.filter(is('unparsed'))).toEqual([]);
    expect(term(next)).toBeGreaterThan(BigInt(run.term as string));
    const periods = written(events).map((e) => e.period as number);
    expect(new Set(periods).size).toBe(periods.length);
    const stored = await storedResults(job);
    expect([...stored.keys()].sort()).toEqual([...periods].sort());
    // The paused leader's period holds no result of its stale term.
    expect(stored.get(run.period as number)?.term).not.toBe(BigInt(run.term as string));
  }, 90_000);
});
