#!/usr/bin/env node
// `pnpm safety`: the full safety matrix (every backend that is built x every scenario that
// applies to it), bounded in count and time by the `full` sizing, written to docs/safety.md.
//
//   node packages/testkit/src/safety/cli.mjs [--size full|ci] [--backend redis,etcd-mutex]
//        [--primitive mutex,rw,semaphore,election] [--scenario contention,holder-paused]
//        [--out docs/safety.md] [--json report.json] [--merge]
//
// --primitive keeps the backends of those primitives (redis-rw, etcd-semaphore, ...; `mutex`:
// the locks), together with --backend if both are given.
//
// --merge keeps the rows already in --out (read from its JSON section) and replaces or adds the
// rows of this run (same backend and scenario), so that a new backend's rows join the page
// without running every other backend again; the page names both runs. Same --size only.
//
// It runs the built checker (packages/testkit/dist), so build first; workers import the
// backends' builds. Exit code 1 when a row failed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const testkit = path.resolve(here, '..', '..');
const repo = path.resolve(testkit, '..', '..');

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'full' },
    backend: { type: 'string' },
    primitive: { type: 'string' },
    scenario: { type: 'string' },
    out: { type: 'string', default: path.join(repo, 'docs', 'safety.md') },
    json: { type: 'string' },
    merge: { type: 'boolean', default: false },
    // The testkit build to run (default: packages/testkit/dist/index.js).
    from: { type: 'string', default: path.join(testkit, 'dist', 'index.js') },
  },
});

const say = (line) => process.stderr.write(`${line}\n`);
const list = (value) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean));

const kit = await import(pathToFileURL(path.resolve(values.from)).href).catch((error) => {
  say(`safety: cannot load the testkit build ${values.from}: ${error.message}\nBuild it first: pnpm --filter @dlock/testkit build`);
  process.exit(2);
});
if (typeof kit.runSafetyMatrix !== 'function') {
  say(`safety: ${values.from} has no safety checker. packages/testkit/src/index.ts must export './safety/index.js'; then rebuild (pnpm --filter @dlock/testkit build).`);
  process.exit(2);
}
const sizing = kit.sizings[values.size];
if (sizing === undefined) {
  say(`safety: --size must be one of ${Object.keys(kit.sizings).join(', ')}, got ${values.size}`);
  process.exit(2);
}

const primitives = ['mutex', 'rw', 'semaphore', 'election'];
const unknown = [
  ...(list(values.primitive) ?? []).filter((p) => !primitives.includes(p)).map((p) => `primitive ${p} (one of ${primitives.join(', ')})`),
  ...(list(values.backend) ?? []).filter((b) => !kit.backends.some((spec) => spec.id === b)).map((b) => `backend ${b} (one of ${kit.backends.map((spec) => spec.id).join(', ')})`),
  ...(list(values.scenario) ?? []).filter((id) => !kit.scenarios.some((sc) => sc.id === id)).map((id) => `scenario ${id} (one of ${kit.scenarios.map((sc) => sc.id).join(', ')})`),
];
if (unknown.length > 0) {
  say(`safety: unknown ${unknown.join('; ')}`);
  process.exit(2);
}

const started = performance.now();
const date = new Date().toISOString();
const machine = kit.machineInfo();
say(`safety: ${sizing.name} matrix on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, redis ${machine.redis}, etcd ${machine.etcd}, PostgreSQL ${machine.postgres}`);
const rows = await kit.runSafetyMatrix({
  sizing,
  backends: list(values.backend),
  primitives: list(values.primitive),
  scenarios: list(values.scenario),
  log: (line) => say(`safety: ${line}`),
});

// How to reproduce this page (where it was written and which build ran do not matter).
const command = ['pnpm safety', values.size === 'full' ? '' : `--size ${values.size}`, values.backend ? `--backend ${values.backend}` : '', values.primitive ? `--primitive ${values.primitive}` : '', values.scenario ? `--scenario ${values.scenario}` : '', values.merge ? '--merge' : '']
  .filter(Boolean)
  .join(' ');
let report = { date, command, sizing, machine, rows, durationMs: performance.now() - started };
if (values.merge) report = mergeInto(readReport(values.out), report, command);
const markdown = `${kit.renderMarkdown(report, report.command)}\n## JSON\n\n<details><summary>The report as JSON</summary>\n\n\`\`\`json\n${kit.renderJson(report)}\n\`\`\`\n\n</details>\n`;
mkdirSync(path.dirname(values.out), { recursive: true });
writeFileSync(values.out, markdown);
if (values.json !== undefined) writeFileSync(values.json, `${kit.renderJson(report)}\n`);

process.stdout.write(`${kit.renderTable(rows)}\n`);
for (const row of rows) {
  if (row.status === 'fail') say(`FAIL ${row.backend} / ${row.scenario}: ${row.verdict.failures.join('; ')}`);
  if (row.status === 'skipped') say(`skipped ${row.backend} / ${row.scenario}: ${row.skipReason}`);
}
say(`safety: wrote ${path.relative(process.cwd(), values.out)} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exitCode = rows.some((row) => row.status === 'fail') ? 1 : 0;

/** The report in the JSON section of a page this command wrote. */
function readReport(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    say(`safety: --merge needs an earlier page at ${file}: ${error.message}`);
    process.exit(2);
  }
  const json = /```json\n([\s\S]*?)\n```/.exec(text)?.[1];
  if (json === undefined) {
    say(`safety: --merge: ${file} has no JSON section`);
    process.exit(2);
  }
  return JSON.parse(json);
}

/**
 * `earlier` with this run's rows in place of its rows of the same backend and scenario (new
 * ones added), in the checker's backend and scenario order. Date and machine stay the earlier
 * run's; the page names this run's command and date for its backends.
 */
function mergeInto(earlier, later, laterCommand) {
  if (earlier.sizing?.name !== later.sizing.name) {
    say(`safety: --merge: ${values.out} holds a ${earlier.sizing?.name} run, this one is ${later.sizing.name}`);
    process.exit(2);
  }
  const id = (row) => `${row.backend}/${row.scenario}`;
  const replaced = new Set(later.rows.map(id));
  const backendOrder = kit.backends.map((b) => b.id);
  const scenarioOrder = kit.scenarios.map((s) => s.id);
  const rank = (row) => backendOrder.indexOf(row.backend) * 1_000 + scenarioOrder.indexOf(row.scenario);
  const merged = [...earlier.rows.filter((row) => !replaced.has(id(row))), ...later.rows].sort((a, b) => rank(a) - rank(b));
  // Each merged run keeps the rows it still contributes; a run with none left is dropped.
  const runs = [
    ...(earlier.merged ?? [])
      .map((run) => ({ ...run, rows: (run.rows ?? []).filter((row) => !replaced.has(row)) }))
      .filter((run) => run.rows.length > 0),
    { command: laterCommand, date: later.date, rows: [...replaced], durationMs: later.durationMs },
  ];
  return {
    ...earlier,
    // Pages written before the report kept its command were made by the full run.
    command: earlier.command ?? 'pnpm safety',
    machine: { ...earlier.machine, postgres: earlier.machine.postgres ?? later.machine.postgres },
    rows: merged,
    merged: runs,
  };
}
