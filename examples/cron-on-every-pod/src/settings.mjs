// A pod's settings, from its environment. Every pod of one deployment runs with the same ones
// (except POD_NAME): the election, the schedule and the results are shared through Redis.
import { hostname } from 'node:os';
import { serverConfig } from '@dlock/example-shared/servers';

/** Thrown for a setting that is not usable; the pod exits 2 without starting. */
export class SettingError extends Error {
  name = 'SettingError';
}

function positiveInteger(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new SettingError(`${name} must be an integer >= 1 (ms), got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * `REDIS_URL` (default: docker-compose's), `POD_NAME` (default `<hostname>:<pid>`), `JOB_NAME`
 * (the election and the results, default `nightly-report`), `PERIOD_MS` (the schedule: one run
 * per period, periods aligned to the wall clock, default 5000), `TTL_MS` (the leadership lease:
 * how long a dead leader blocks the job, default 3000), `JOB_MS` (how long the job works, default
 * 500), `LOG=json` (one JSON object per line, for machines).
 */
export function podSettings(env = process.env) {
  const settings = {
    redisUrl: serverConfig(env).redisUrl,
    pod: env.POD_NAME || `${hostname()}:${process.pid}`,
    jobName: env.JOB_NAME || 'nightly-report',
    periodMs: positiveInteger(env, 'PERIOD_MS', 5_000),
    ttlMs: positiveInteger(env, 'TTL_MS', 3_000),
    jobMs: positiveInteger(env, 'JOB_MS', 500),
    json: env.LOG === 'json',
  };
  if (settings.jobMs >= settings.periodMs) {
    throw new SettingError(`JOB_MS (${settings.jobMs}) must be shorter than PERIOD_MS (${settings.periodMs}): one run per period`);
  }
  return settings;
}
