// A section of the report: groups (a parameter such as c=64 or 50 waiters) x rows (contender
// specs), each cell measured in interleaved rounds (round 1 of every row, then round 2, ...) and
// reduced to field-wise medians. Rows that cannot run here are "skipped" with the reason.
import { labelOf, serverOf, settingsText, unavailable } from '../contenders.mjs';
import { errorText, interleaved, medianFields } from '../measure.mjs';

/** Why `spec` cannot run in this bench run, or undefined. */
export async function skipReason(ctx, spec) {
  const server = serverOf(spec);
  const envKey = { redis: 'redisUrl', etcd: 'etcdEndpoint', redisNodes: 'redisNodeUrls', postgres: 'postgresUrl' }[server];
  if (ctx.env[envKey] === undefined) {
    return `no ${server === 'redisNodes' ? 'Redlock redis nodes' : server} server: ${ctx.missing[server] ?? 'not started'}`;
  }
  return unavailable(spec.id);
}

/** Whether `row` runs under `--rows` (a focused run keeps the baseline rows, to divide by). */
function selected(ctx, row) {
  if (ctx.rows === undefined || row.baseline || row.spec === undefined) return true;
  const { id, variant } = row.spec;
  return ctx.rows.some((entry) => entry === id || entry === `${id}:${variant ?? 'default'}`);
}

/**
 * A row of the report for a contender spec (`baseline`: the raw protocol the others are divided
 * by); `text` overrides the label or settings shown.
 */
export function rowOf(spec, baseline = false, text = {}) {
  return {
    spec,
    key: `${spec.id}:${spec.nodes ?? 1}:${spec.variant ?? 'default'}`,
    label: text.label ?? labelOf(spec),
    settings: text.settings ?? settingsText(spec.id, spec.variant),
    baseline,
  };
}

/**
 * Measures every row in every group. A row is a {@link rowOf} contender row, or any
 * `{ key, label, settings, baseline, skipped }` (then `measure` gets the key instead of a spec).
 * `measure(spec, group)` returns an object of numbers; a
 * `notes` array in it (errors seen during the run) is kept with the row. Instead of `measure`,
 * `measureRound(specs, group)` measures one round of all rows together (finer interleaving) and
 * resolves to one result per row (an object of numbers, or `{ error }`).
 */
export async function runGrid(ctx, section, { groups, rows, measure, measureRound }) {
  const out = { ...section, groups: [] };
  for (const group of groups) {
    const live = [];
    const cells = [];
    for (const row of rows) {
      if (!selected(ctx, row)) continue;
      const cell = { key: row.key, label: row.label, settings: row.settings, baseline: row.baseline };
      cells.push(cell);
      const reason = row.spec ? await skipReason(ctx, row.spec) : row.skipped;
      if (reason) cell.skipped = reason;
      else live.push({ row, cell });
    }
    ctx.log(`${section.title} | ${group.label}: ${live.length} rows x ${ctx.profile.repeats} rounds`);
    const report = ({ row }, r) => ctx.log(`  ${row.label}${row.settings ? ` (${row.settings})` : ''}: ${ctx.brief(r)}`);
    const results = measureRound
      ? await allAtOnce(ctx.profile.repeats, live, (items) => measureRound(items.map(({ row }) => row.spec ?? row.key), group), report)
      : await interleaved(ctx.profile.repeats, live, ({ row }) => measure(row.spec ?? row.key, group), { onRun: report });
    for (const item of live) {
      const { cell } = item;
      const slot = results.get(item);
      cell.median = slot.median;
      cell.runs = slot.runs.map(({ notes, ...numbers }) => numbers);
      const notes = [...slot.errors, ...slot.runs.flatMap((r) => r.notes ?? [])];
      if (notes.length > 0) cell.notes = [...new Set(notes)].slice(0, 5);
      if (slot.skipped) cell.skipped = slot.skipped;
      if (slot.runs.length === 0 && !cell.skipped) cell.skipped = `failed: ${slot.errors[0] ?? 'no result'}`;
    }
    out.groups.push({ label: group.label, rows: cells });
  }
  return out;
}

/** Like `interleaved`, for a `measureRound` that measures every item in one call. */
async function allAtOnce(repeats, items, measureRound, onRun) {
  const out = new Map(items.map((item) => [item, { runs: [], errors: [] }]));
  for (let round = 0; round < repeats; round++) {
    let results;
    try {
      results = await measureRound(items);
    } catch (error) {
      results = items.map(() => ({ error: errorText(error) }));
    }
    items.forEach((item, i) => {
      const r = results[i];
      if (r?.error) out.get(item).errors.push(r.error);
      else out.get(item).runs.push(r);
      onRun(item, r);
    });
  }
  for (const slot of out.values()) slot.median = medianFields(slot.runs);
  return out;
}
