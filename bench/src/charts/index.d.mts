// Types of index.mjs, for the TypeScript test that checks the charts (packages/testkit/test/bench-charts.test.ts).

/** A metric of a section, as the bench stores it. */
export interface ResultMetric {
  key: string;
  label: string;
  digits?: number;
  ratio?: 'higher' | 'lower';
}

/** A row of a section's group, as the bench stores it. */
export interface ResultRow {
  key?: string;
  label: string;
  settings?: string;
  baseline?: boolean;
  skipped?: string;
  error?: string;
  median?: Record<string, number>;
  ratios?: Record<string, number | undefined>;
}

export interface ResultSection {
  id: string;
  title: string;
  groupLabel?: string;
  ratioLabel?: string;
  chartMetric?: string;
  error?: string;
  metrics: ResultMetric[];
  groups?: { label: string; rows: ResultRow[] }[];
}

export interface BenchResult {
  sections: ResultSection[];
}

export type BarKind = 'dlock' | 'baseline' | 'raw' | 'other';

export interface Bar {
  label: string;
  kind: BarKind;
  value: number | undefined;
  ratio: number | undefined;
  /** Why there is no bar: `skipped: <reason>`, `error: <text>` or `no figure`. */
  missing: string | undefined;
}

export interface Chart {
  id: string;
  title: string;
  metric: { key: string; label: string; digits: number; better: 'higher' | 'lower' | undefined };
  ratioLabel: string | undefined;
  groups: { label: string; bars: Bar[] }[];
}

export const barKinds: readonly BarKind[];
export const barStyles: Record<BarKind, { fill: string; stroke?: string; dash?: string; legend: string }>;
export function rowKind(row: ResultRow): BarKind;
export function chartMetric(section: ResultSection): ResultMetric | undefined;
export function sectionChart(section: ResultSection): Chart | undefined;
export function renderBarChart(chart: Chart): string;
export function linkCharts(markdown: string, links: { title: string; href: string }[]): string;
export function chartsDirOf(markdownPath: string): string;
export function sectionCharts(result: BenchResult): { id: string; title: string; fileName: string; svg: string }[];
export function writeChartFiles(result: BenchResult, dir: string, options?: { prune?: boolean }): { id: string; title: string; file: string }[];
export function writeCharts(result: BenchResult, markdownPath: string): { title: string; href: string }[];
