// `pnpm bench` (a few minutes), `pnpm bench --full` (longer), `node bench/run.mjs --quick` (a
// smoke test under a minute). dlock's backends against the raw protocol and the Node peers, in
// one run, against servers started here by @dlock/testkit (127.0.0.1, stopped at the end).
// Writes bench/results/<date>[-full].json and bench/RESULTS.md (--full: RESULTS-full.md; --quick: a temp dir), and prints
// the markdown. Options: --only=uncontended,hot,etcd-hot,redlock,watchdog,registration,postgres,semaphore,rw,fairness
// (a run of some sections writes RESULTS-<sections>.md and results/<date>[-profile]-<sections>.json,
// so that it never overwrites the complete RESULTS.md); --rows=dlock-redis,dlock-redis:unfair (only
// these contenders and the baselines; written to a temp dir unless --out is given)
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ChildLink } from './src/child-link.mjs';
import { errorText } from './src/measure.mjs';
import { plan } from './src/plan.mjs';
import { profiles } from './src/profile.mjs';
import { addRatios, writeReport } from './src/report.mjs';
import { startServers } from './src/servers.mjs';
import { etcdVersion } from './src/stats/etcd-metrics.mjs';
import { postgresVersion } from './src/stats/postgres-version.mjs';
import { redisVersion } from './src/stats/redis-info.mjs';
import { libraryVersions, machine } from './src/versions.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const unknown = args.filter((a) => !/^--(quick|full|only=.+|rows=.+|out=.+)$/.test(a));
if (unknown.length > 0 || (flag('quick') && flag('full'))) {
  console.error(
    `usage: node bench/run.mjs [--quick | --full] [--only=uncontended,hot,etcd-hot,redlock,watchdog,registration,postgres,semaphore,rw,fairness] ` +
      `[--rows=<contender id>[:<variant>],...] [--out=dir]`,
  );
  process.exit(2);
}
const profileName = flag('quick') ? 'quick' : flag('full') ? 'full' : 'default';
const profile = profiles[profileName];
const only = option('only')?.split(',');
const sections = plan(profile).filter((s) => !only || only.includes(s.id));

const needs = {
  redis: sections.some((s) => ['uncontended', 'hot', 'watchdog', 'registration', 'semaphore', 'rw', 'fairness'].includes(s.id)),
  redisNodes: sections.some((s) => ['redlock', 'registration', 'fairness'].includes(s.id)),
  etcd: sections.some((s) => ['uncontended', 'etcd-hot', 'registration', 'fairness'].includes(s.id)),
  postgres: sections.some((s) => ['postgres', 'semaphore', 'rw', 'fairness'].includes(s.id)),
};

const started = Date.now();
const log = (line) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

function brief(r) {
  if (r === undefined) return 'no result';
  if (r.error) return `error: ${r.error}`;
  if (r.skipped) return `skipped: ${r.skipped}`;
  const parts = Object.entries(r)
    .filter(([, x]) => typeof x === 'number')
    .slice(0, 4)
    .map(([k, x]) => `${k} ${x >= 100 ? Math.round(x) : x.toFixed(2)}`);
  if (r.notes?.length) parts.push(`notes: ${r.notes[0]}`);
  return parts.join(', ');
}

// Everything started here, stopped on every way out.
const children = new Set();
let servers;
let child;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await Promise.allSettled([...children].map((c) => c.stop()));
    await servers?.stop();
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping servers`);
    void cleanup().finally(() => process.exit(130));
  });
}

const ctx = {
  profile,
  /** --rows: only these contenders (`dlock-redis`, or `dlock-redis:unfair` for one variant) and the baselines. */
  rows: option('rows')?.split(','),
  env: {},
  missing: {},
  log,
  brief,
  track: (c) => children.add(c),
  untrack: (c) => children.delete(c),
  /** The persistent second process of the 2-process workloads (restarted if it died). */
  async child() {
    if (child === undefined || child.dead) {
      child = await ChildLink.start();
      children.add(child);
    }
    return child;
  },
};

const result = {
  date: new Date().toISOString(),
  command: `node bench/run.mjs${args.length ? ` ${args.join(' ')}` : ''}`,
  profileName,
  profile,
  machine: machine(),
  versions: { node: process.version, redisServer: 'not started', etcd: 'not started', postgres: 'not started', libraries: libraryVersions() },
  servers: {},
  caveat: '',
  sections: [],
};

let exitCode = 0;
try {
  log(`profile ${profileName}; starting servers`);
  servers = await startServers(needs);
  ctx.env = servers.env;
  ctx.missing = servers.missing;
  result.servers = { mode: servers.mode, missing: servers.missing };
  for (const [kind, why] of Object.entries(servers.missing)) if (needs[kind]) log(`no ${kind}: ${why}`);
  if (ctx.env.redisUrl) {
    const c = new Redis(ctx.env.redisUrl);
    result.versions.redisServer = await redisVersion(c).catch((e) => `unknown (${errorText(e)})`);
    c.disconnect();
  }
  if (ctx.env.etcdEndpoint) result.versions.etcd = await etcdVersion(ctx.env.etcdEndpoint).catch((e) => `unknown (${errorText(e)})`);
  if (ctx.env.postgresUrl) result.versions.postgres = await postgresVersion(ctx.env.postgresUrl).catch((e) => `unknown (${errorText(e)})`);

  for (const section of sections) {
    try {
      result.sections.push(await section.run(ctx));
    } catch (error) {
      log(`section ${section.id} failed: ${errorText(error)}`);
      result.sections.push({ id: section.id, title: section.id, error: errorText(error) });
    }
  }
} catch (error) {
  log(`bench failed: ${errorText(error)}`);
  exitCode = 1;
} finally {
  await cleanup();
}

const load = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
result.machine.loadAverageAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
result.durationSeconds = Math.round((Date.now() - started) / 1000);
result.caveat =
  `Load average ${result.machine.loadAverageAtStart.join(' / ')} at start, ${load} at the end, on ${result.machine.cores} cores: ` +
  'the servers, both bench processes and anything else running share them, so absolute figures are noisy; ' +
  'the ratios (same run, interleaved rounds) are the figures to compare.';

const day = result.date.slice(0, 10);
// A quick run, or one of some contenders (--rows), is a probe: it never replaces committed results.
const probe = profileName === 'quick' || ctx.rows !== undefined;
const outDir = option('out') ?? (probe ? path.join(os.tmpdir(), `dlock-bench-${profileName === 'quick' ? 'quick' : 'rows'}`) : benchDir);
// A run of some sections (--only) names them, so it does not overwrite the complete results.
const part = only ? `-${[...new Set(only)].join('+')}` : '';
const jsonPath = path.join(outDir, 'results', `${day}${profileName === 'default' ? '' : `-${profileName}`}${part}.json`);
// The full profile keeps its own markdown, so `pnpm bench` does not overwrite the peers' retry sweeps.
const markdownPath = path.join(outDir, `${profileName === 'full' ? 'RESULTS-full' : 'RESULTS'}${part}.md`);
result.jsonFile = path.relative(outDir, jsonPath);
addRatios(result);
const markdown = writeReport(result, { jsonPath, markdownPath });
console.log(markdown);
log(`wrote ${jsonPath} and ${markdownPath} in ${result.durationSeconds} s`);
process.exit(exitCode);
