// Writes a result's charts as SVG files: one per section that has measured rows.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sectionChart } from './chart-data.mjs';
import { renderBarChart } from './render-svg.mjs';

/** The folder of a markdown report's charts: `charts/<report name>/` beside it (RESULTS.md and RESULTS-full.md share section ids). */
export function chartsDirOf(markdownPath) {
  return path.join(path.dirname(markdownPath), 'charts', path.basename(markdownPath, '.md'));
}

const fileNameOf = (id) => `${String(id).replace(/[^A-Za-z0-9._-]/g, '-')}.svg`;

/** `{ id, title, fileName, svg }` per section that has a chart, in the report's order. */
export function sectionCharts(result) {
  return result.sections.flatMap((section) => {
    const chart = sectionChart(section);
    return chart ? [{ id: section.id, title: section.title, fileName: fileNameOf(section.id), svg: renderBarChart(chart) }] : [];
  });
}

/**
 * Writes the charts into `dir`; returns `{ id, title, file }` per chart. With `prune`, .svg files
 * in `dir` that no section draws any more are removed (only for a folder the charts own).
 */
export function writeChartFiles(result, dir, { prune = false } = {}) {
  const charts = sectionCharts(result);
  mkdirSync(dir, { recursive: true });
  if (prune) {
    const kept = new Set(charts.map((c) => c.fileName));
    for (const name of readdirSync(dir)) if (name.endsWith('.svg') && !kept.has(name)) rmSync(path.join(dir, name));
  }
  return charts.map((c) => {
    const file = path.join(dir, c.fileName);
    writeFileSync(file, c.svg);
    return { id: c.id, title: c.title, file };
  });
}

/** Writes a report's charts beside its markdown; returns `{ title, href }` (relative to the markdown) for linkCharts. */
export function writeCharts(result, markdownPath) {
  const base = path.dirname(markdownPath);
  return writeChartFiles(result, chartsDirOf(markdownPath), { prune: true }).map((c) => ({
    title: c.title,
    href: encodeURI(path.relative(base, c.file).split(path.sep).join('/')),
  }));
}
