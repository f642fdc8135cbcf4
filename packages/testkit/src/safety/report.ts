import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SafetyRow } from './checker.js';
import { workloadFor, type Sizing } from './scenarios.js';
import type { Primitive } from './types.js';

/** The machine a report was produced on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  redis: string;
  etcd: string;
  /** The local PostgreSQL server's version (absent in reports written before it was checked). */
  postgres?: string;
}

/** A finished matrix run. */
export interface SafetyReport {
  /** ISO date and time the run started. */
  date: string;
  sizing: Sizing;
  machine: MachineInfo;
  rows: SafetyRow[];
  durationMs: number;
  /** The command that produced the report (its rows not merged later). */
  command?: string;
  /**
   * Later runs whose rows were merged into this report (`pnpm safety --merge`), replacing its
   * rows of the same backend and scenario; `date` and `machine` stay those of the first run.
   */
  merged?: Array<{ command: string; date: string; rows: string[]; durationMs: number }>;
}

function versionOf(binary: string, pattern: RegExp): string {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return pattern.exec(out)?.[1] ?? out.split('\n')[0]?.trim() ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** The newest of Debian's /usr/lib/postgresql/<version>/bin/postgres, else `postgres` on PATH. */
function postgresBinary(): string {
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    const newest = versions[0];
    if (newest !== undefined) return path.join('/usr/lib/postgresql', newest, 'bin', 'postgres');
  } catch {
    // not Debian's layout
  }
  return 'postgres';
}

/** CPU model, cores, memory, OS, Node, and the local redis-server, etcd and PostgreSQL versions. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: versionOf('redis-server', /v=(\S+)/),
    etcd: versionOf('etcd', /etcd Version: (\S+)/),
    postgres: versionOf(postgresBinary(), /\(PostgreSQL\) (\S+)/),
  };
}

const columns = ['backend', 'scenario', 'acquisitions', 'overlaps', 'stale rejected', 'stale accepted', 'losses reported', 'errors', 'duration', 'verdict'] as const;

function cells(row: SafetyRow): string[] {
  const v = row.verdict;
  const duration = `${(row.durationMs / 1000).toFixed(1)} s`;
  if (v === undefined) return [row.backend, row.scenario, '-', '-', '-', '-', '-', '-', '-', 'skipped'];
  const verdict = row.status === 'documented' ? 'documented unsafe (fencing held)' : row.status === 'fail' ? 'FAIL' : row.status;
  return [
    row.backend,
    row.scenario,
    String(v.acquisitions),
    String(v.overlaps),
    String(v.staleRejected),
    String(v.staleAccepted),
    String(v.lossesReported),
    String(v.errors),
    duration,
    verdict,
  ];
}

/** The matrix as an aligned plain-text table, for a terminal. */
export function renderTable(rows: readonly SafetyRow[]): string {
  const body = rows.map(cells);
  const widths = columns.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]?.length ?? 0)));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The report as JSON (fencing tokens as decimal strings). */
export function renderJson(report: SafetyReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2);
}

/** `backend/scenario` ids of merged rows, named by backend where a run holds all of a backend's rows. */
function mergedRows(report: SafetyReport, ids: readonly string[]): string {
  const backends = [...new Set(ids.map((id) => id.split('/')[0] ?? id))];
  return backends
    .flatMap((backend) => {
      const all = report.rows.filter((row) => row.backend === backend).map((row) => `${row.backend}/${row.scenario}`);
      return all.every((id) => ids.includes(id)) ? [backend] : ids.filter((id) => id.startsWith(`${backend}/`));
    })
    .join(', ');
}

/** `Read-write lock (70 % reads). ` and so on; nothing for the mutex. */
function describePrimitive(primitive: Primitive, lapses = 0): string {
  const workload = workloadFor(primitive);
  switch (primitive) {
    case 'mutex':
      return '';
    case 'rw':
      return `Read-write lock (${Math.round((workload.reads ?? 0) * 100)} % reads). `;
    case 'semaphore':
      return `Semaphore (limit ${workload.limit}, 1-${workload.maxPermits} permits per acquisition). `;
    case 'election':
      return `Election (the term as fencing token${lapses > 0 ? `, ${lapses} leader(s) stopped renewing` : ''}). `;
  }
}

/** The report as the Markdown page `docs/safety.md`. */
export function renderMarkdown(report: SafetyReport, command = 'pnpm safety'): string {
  const m = report.machine;
  const out: string[] = [
    '# Safety matrix',
    '',
    `Generated by \`${command}\` (the multi-process safety checker in \`@dlock/testkit\`: worker processes contend for keys of mutexes, read-write locks, semaphores and elections under injected faults, and the verdict checks that no two holders that exclude each other overlapped and no stale fencing token was accepted) on ${report.date}` +
      (report.merged ?? []).map((run) => `; the ${mergedRows(report, run.rows)} rows by \`${run.command}\` on ${run.date}`).join('') +
      '.',
    'Do not edit by hand: run the command again.',
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}; Node ${m.node}; redis-server ${m.redis}; etcd ${m.etcd}` +
      `${m.postgres === undefined ? '' : `; PostgreSQL ${m.postgres}`}.`,
    `Size: ${report.sizing.name}: ${report.sizing.processes} processes x ${report.sizing.workersPerProcess} async workers, ` +
      `contention ${report.sizing.contentionMs / 1000} s (at most ${report.sizing.maxAcquisitions} acquisitions), ` +
      `${report.sizing.faults} fault(s) per fault scenario. Total ${((report.durationMs + (report.merged ?? []).reduce((sum, run) => sum + run.durationMs, 0)) / 1000).toFixed(0)} s.`,
    '',
    '| ' + columns.join(' | ') + ' |',
    '|' + columns.map(() => '---').join('|') + '|',
    ...report.rows.map((row) => '| ' + cells(row).join(' | ') + ' |'),
    '',
    '## How to read it',
    '',
    '- Every acquisition registers its fencing token with a fenced resource in the checker process, then',
    '  writes to it, announces its release and releases. The checker stamps each step on its own clock',
    '  when it receives it; after each acknowledgement the holder checks `handle.held` and',
    '  `performance.now() < handle.validUntil`. The stamps bracketed by positive checks are moments the',
    '  holder surely held the lock, so an **overlap** (two holders of one key both confirmed valid at',
    '  overlapping stamps) is a real violation, never a clock artefact.',
    '- **stale rejected**: writes the resource refused because a higher fencing token had been seen.',
    '  **stale accepted**: writes of a holder accepted after another holder\'s accepted write (must be 0).',
    '- **losses reported**: acquisitions whose `handle.signal` aborted with `LockLostError`.',
    '- A row is **documented unsafe** when the backend cannot guarantee exclusion there and says so in',
    '  its README; it passes when fencing still rejected every stale write.',
    '- Also checked in every row (a failure otherwise): fencing tokens increase in grant order, no lock',
    '  vanished before its `validUntil`, no holder lost its lock unnoticed, no unhandled rejection in a',
    '  worker, every worker exited by itself after `close()`, no server process and no lock key left.',
    '- The backends named `-rw`, `-semaphore` and `-election` run the other primitives the same way.',
    '  **Read-write locks** (70 % `readLock()`, 30 % `writeLock()`): readers register and read through the',
    '  resource, writers write; an **overlap** is a writer confirmed valid together with any other holder,',
    '  readers may overlap each other. **Semaphores** (limit 3, 1 or 2 permits at random): an **overlap**',
    '  is a holder granted while the confirmed holders\' permits and its own exceeded the limit. For both',
    '  the resource keeps the holders it admitted; a newcomer that does not fit with them evicts the',
    '  lowest tokens (a holder that lost its claim on the server) and later writes of an evicted holder',
    '  are **stale rejected**. Tokens must rise between any holder registered before another even called',
    '  the acquiring method, and for read-write locks between holders that exclude each other.',
    '  **Elections**: each worker campaigns, writes with its `term` as the fencing token while it leads,',
    '  then resigns; an **overlap** is two confirmed leaders of one name at once, and terms must rise in',
    '  election order. In plain contention a few leaders stop renewing and hold on for 2 TTL: someone',
    '  must take over after their lease and not before, and fencing must reject their later writes.',
    '- For these primitives *holder-paused* and *holder-killed* look for the holder that took the',
    '  paused or killed holder\'s share of the key: the next grant for a mutex or a leadership, the next',
    '  writer after a reader, the next grant that needed the permits.',
    '',
    '## Rows',
    '',
  ];
  for (const row of report.rows) {
    out.push(`### ${row.backend} / ${row.scenario}: ${row.title}`, '');
    if (row.verdict === undefined) {
      out.push(`Skipped: ${row.skipReason ?? 'not available'}.`, '');
      continue;
    }
    const v = row.verdict;
    const plan = row.plan;
    if (plan !== undefined) {
      out.push(
        `${describePrimitive(row.primitive ?? 'mutex', plan.lapses)}TTL ${plan.ttl} ms, ${plan.keys} key(s), hold ${plan.holdMs[0]}-${plan.holdMs[1]} ms, ${plan.writes} write(s)` +
          `${plan.topology === 'cluster' ? ', 3-member cluster' : ''}${plan.proxy ? ', through TCP proxies' : ''}. ` +
          `Fence inversions ${v.fenceInversions}, early losses ${v.earlyLosses}, early not-held releases ${v.earlyNotHeld}, ` +
          `expired at grant ${v.expiredAtGrant}, lost unnoticed ${v.lostUnnoticed}, ` +
          `unhandled ${v.unhandled}, leaked processes ${v.leakedProcesses}, leaked keys ${v.leakedKeys}.`,
        '',
      );
    }
    for (const failure of v.failures) out.push(`- **failure**: ${failure}`);
    for (const note of v.notes) out.push(`- ${note}`);
    for (const example of v.examples) out.push(`- example: ${example}`);
    out.push('');
  }
  return out.join('\n');
}

/** One row in detail: the table line, failures, notes, examples and error samples. */
export function describeRow(row: SafetyRow): string {
  const lines = [renderTable([row])];
  if (row.skipReason !== undefined) lines.push(`skipped: ${row.skipReason}`);
  const v = row.verdict;
  if (v !== undefined) {
    for (const failure of v.failures) lines.push(`failure: ${failure}`);
    for (const note of v.notes) lines.push(`note: ${note}`);
    for (const example of v.examples) lines.push(`example: ${example}`);
  }
  for (const [kind, message] of Object.entries(row.errorSamples ?? {})) lines.push(`error ${kind}: ${message}`);
  if (row.phases !== undefined) lines.push(`phases (ms): ${JSON.stringify(row.phases)}`);
  return lines.join('\n');
}
