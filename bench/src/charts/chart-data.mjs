// What a section's chart shows, from the section as the bench stores it in its JSON: the main
// metric, and per row group one bar per row, each marked dlock, the baseline, raw protocol or
// other (the peers, and the registration section's strategies).

/** The kinds of bar, in legend order. */
export const barKinds = ['dlock', 'baseline', 'raw', 'other'];

/** A row's kind: the baseline flag first (ratios are to it), then the label's first word. */
export function rowKind(row) {
  if (row.baseline) return 'baseline';
  if (/^dlock\b/.test(row.label)) return 'dlock';
  if (/^raw\b/.test(row.label)) return 'raw';
  return 'other';
}

/**
 * The metric drawn: the section's `chartMetric` when it names one of its metrics, else the first
 * metric with a ratio to the baseline (pairs/s, hand-offs/s, ...), else the first metric.
 */
export function chartMetric(section) {
  const metrics = section.metrics ?? [];
  return metrics.find((m) => m.key === section.chartMetric) ?? metrics.find((m) => m.ratio) ?? metrics[0];
}

/** 'higher' or 'lower' is better, from the metric's ratio direction or its name; else undefined. */
function betterOf(metric) {
  if (metric.ratio === 'higher' || metric.ratio === 'lower') return metric.ratio;
  if (/PerSecond$/.test(metric.key)) return 'higher';
  if (/Ms$/.test(metric.key)) return 'lower';
  return undefined;
}

function barOf(row, metric) {
  const label = row.settings ? `${row.label} (${row.settings})` : row.label;
  const value = row.skipped ? undefined : row.median?.[metric.key];
  const measured = typeof value === 'number' && Number.isFinite(value);
  const ratio = row.baseline || !metric.ratio ? undefined : row.ratios?.[metric.key];
  return {
    label,
    kind: rowKind(row),
    value: measured ? value : undefined,
    ratio: typeof ratio === 'number' && Number.isFinite(ratio) ? ratio : undefined,
    missing: measured ? undefined : row.skipped ? `skipped: ${row.skipped}` : row.error ? `error: ${row.error}` : 'no figure',
  };
}

/** The chart of one section, or undefined when it failed or has no measured row. */
export function sectionChart(section) {
  if (section.error || !section.groups?.length) return undefined;
  const metric = chartMetric(section);
  if (!metric) return undefined;
  const groups = section.groups.map((group) => ({
    label: `${section.groupLabel ?? 'run'}: ${group.label}`,
    bars: group.rows.map((row) => barOf(row, metric)),
  }));
  if (!groups.some((g) => g.bars.some((b) => b.value !== undefined))) return undefined;
  return {
    id: section.id,
    title: section.title,
    metric: { key: metric.key, label: metric.label, digits: metric.digits ?? 0, better: betterOf(metric) },
    ratioLabel: metric.ratio ? (section.ratioLabel ?? 'x raw') : undefined,
    groups,
  };
}
