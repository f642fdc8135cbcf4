// `pnpm --filter @dlock/example-cron-on-every-pod start`, the same program on every pod.
//
// A periodic job (here "the nightly report", every PERIOD_MS) deployed with the service on every
// pod, that must run once per period, not once per pod. Every pod campaigns in one election
// through LockService.lead; the leader runs the job at each period while the others wait as
// candidates (woken by Redis pub/sub, no polling). The watchdog renews the leadership every
// TTL_MS/3; when the leader's process dies, its lease runs out and a candidate is elected within
// about TTL_MS, and runs the period it finds not done yet.
//
// The leader writes each result with its term, which strictly increases with every leader, and
// the results store refuses a term lower than one it has accepted (src/fenced-results.mjs): a
// leader that was paused past its lease (GC, a frozen VM, a partition) and wakes up still
// "running" its job cannot overwrite the new leader's work.
//
// Settings: see src/settings.mjs (REDIS_URL, POD_NAME, JOB_NAME, PERIOD_MS, TTL_MS, JOB_MS, LOG).
// SIGINT or SIGTERM: the leader finishes its run and resigns (a candidate is elected at once),
// a candidate stops campaigning; exit 0.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockLostError, LockService } from '@dlock/core';
import { RedisElection } from '@dlock/redis';
import { redact } from '@dlock/example-shared/servers';
import { FencedResults } from './fenced-results.mjs';
import { periodOf, untilPeriod } from './schedule.mjs';
import { electionPrefix, resultsPrefix } from './names.mjs';
import { podSettings, SettingError } from './settings.mjs';

let settings;
try {
  settings = podSettings();
} catch (error) {
  if (!(error instanceof SettingError)) throw error;
  console.error(`cron-on-every-pod: ${error.message}`);
  process.exit(2);
}
const { pod, jobName, periodMs, ttlMs, jobMs } = settings;

/** One line per event: readable text, or with LOG=json an object `{t, pod, event, ...fields}`. */
function log(event, fields, text) {
  if (settings.json) {
    const line = { t: Date.now(), pod, event, ...fields };
    console.log(JSON.stringify(line, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  } else {
    console.log(`${new Date().toISOString().slice(11, 23)} ${pod}: ${text}`);
  }
}

const stopping = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log('stopping', { signal }, `${signal}: stopping`);
    stopping.abort();
  });
}

const election = new RedisElection(settings.redisUrl, { prefix: electionPrefix });
const cron = new LockService(election, { ttl: ttlMs });
const results = new FencedResults(settings.redisUrl, resultsPrefix, jobName);

/** The job itself: some work, then its result, written with the leader's term as the fence. */
async function runJob(period, term) {
  const startedAt = Date.now();
  log('job-started', { period, term, startedAt }, `period ${period}: job started (term ${term})`);
  // The work. Deliberately not abortable: whatever a job does, the moment between "still the
  // leader" and "the write lands" cannot be closed by checking first; the fence closes it.
  await sleep(jobMs);
  const finishedAt = Date.now();
  const { outcome, fence } = await results.write(term, period, { pod, term: String(term), startedAt, finishedAt });
  const how = {
    written: 'result written',
    stale: `result REFUSED: term ${term} is stale, the store has accepted term ${fence} (a newer leader)`,
    duplicate: 'result REFUSED: the period already has one',
  }[outcome];
  log('job-finished', { period, term, startedAt, finishedAt, outcome, fence }, `period ${period}: job finished, ${how}`);
}

/**
 * As the leader: run each period's job until the leadership ends or the pod stops. A run that
 * overran its period is followed by the next period's at once; periods that passed entirely
 * while this pod could not run (a pause longer than a period) are reported as missed, not run
 * late.
 */
async function leadPeriods(leadership, waitedMs) {
  const { term } = leadership;
  log('elected', { term, waitedMs }, `elected leader of "${jobName}" (term ${term}) after ${waitedMs} ms as a candidate`);
  const ends = AbortSignal.any([leadership.signal, stopping.signal]);
  let period = periodOf(Date.now(), periodMs);
  let first = true;
  while (!ends.aborted) {
    try {
      // A leader that took over mid-period: the previous one may have run it already.
      if (first && (await results.has(period))) log('skipped', { period, term }, `period ${period}: done by the previous leader`);
      else await runJob(period, term);
    } catch (error) {
      log('job-failed', { period, term, error: error.message }, `period ${period}: job failed: ${error.message}`);
    }
    first = false;
    await untilPeriod(period + 1, periodMs, ends);
    if (ends.aborted) break;
    const now = periodOf(Date.now(), periodMs);
    if (now > period + 1) log('missed', { from: period + 1, to: now - 1, term }, `periods ${period + 1} to ${now - 1}: missed (this pod was paused)`);
    period = now;
  }
}

log('started', { redis: redact(settings.redisUrl), job: jobName, periodMs, ttlMs }, `campaigning for "${jobName}" on ${redact(settings.redisUrl)} (period ${periodMs} ms, ttl ${ttlMs} ms)`);
while (!stopping.signal.aborted) {
  const campaignStarted = performance.now();
  try {
    // Resolves when this pod stops as the leader (it has resigned); rejects with LockLostError
    // when the leadership was lost while leading (then campaign again), or with the abort
    // reason when the pod stops as a candidate.
    await cron.lead(jobName, (leadership) => leadPeriods(leadership, Math.round(performance.now() - campaignStarted)), {
      value: pod,
      signal: stopping.signal,
    });
    log('resigned', {}, `resigned the leadership of "${jobName}"`);
  } catch (error) {
    if (stopping.signal.aborted) break;
    if (error instanceof LockLostError) {
      log('lost', { reason: error.message }, `lost the leadership: ${error.message}; campaigning again`);
    } else {
      log('error', { error: error.message }, `campaign failed: ${error.message}; again in 1 s`);
      await sleep(1_000, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  }
}
await cron.close();
results.close();
log('stopped', {}, 'stopped');
