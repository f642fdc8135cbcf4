// The bench's SVG charts (bench/src/charts): well-formed SVG, one bar per measured row drawn to
// scale, skipped rows as text, labels escaped, links under the report's headings, files beside it.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chartMetric,
  linkCharts,
  renderBarChart,
  sectionChart,
  writeCharts,
  type BenchResult,
  type Chart,
  type ResultSection,
} from '../../../bench/src/charts/index.mjs';

const benchDir = fileURLToPath(new URL('../../../bench/', import.meta.url));

/** Throws unless `xml` is one well-formed element: tags nest and close, text and attributes escaped. */
function checkWellFormed(xml: string): void {
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+);/y;
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const c = xml[i];
    if (c === '<') {
      tag.lastIndex = i;
      const m = tag.exec(xml);
      if (!m) throw new Error(`malformed tag at ${i}: ${xml.slice(i, i + 40)}`);
      const [all, closing, name, attrs = '', selfClosing] = m;
      for (const amp of attrs.matchAll(/&/g)) {
        entity.lastIndex = amp.index;
        if (!entity.test(attrs)) throw new Error(`bare & in attributes of <${name}>`);
      }
      if (closing) {
        const open = stack.pop();
        if (open !== name) throw new Error(`</${name}> closes <${open}>`);
      } else if (!selfClosing) {
        if (stack.length === 0) roots++;
        stack.push(name as string);
      } else if (stack.length === 0) roots++;
      i += all.length;
    } else if (c === '&') {
      entity.lastIndex = i;
      if (!entity.test(xml)) throw new Error(`bare & at ${i}: ${xml.slice(i, i + 20)}`);
      i = entity.lastIndex;
    } else if (c === '>') {
      throw new Error(`bare > at ${i}`);
    } else {
      if (stack.length === 0 && c?.trim()) throw new Error(`text outside the root at ${i}`);
      i++;
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

/** The bars of an SVG: kind (from the class) and width, in drawing order. */
function barsOf(svg: string): { kind: string; width: number }[] {
  return [...svg.matchAll(/<rect class="bar ([a-z]+)"[^>]*?\swidth="([\d.]+)"/g)].map((m) => ({ kind: m[1] as string, width: Number(m[2]) }));
}

const hotSection: ResultSection = {
  id: 'hot',
  title: '2. Hot key <test>',
  groupLabel: 'workers',
  metrics: [
    { key: 'acquisitionsPerSecond', label: 'acquisitions/s', digits: 0 },
    { key: 'handoffsPerSecond', label: 'hand-offs/s', digits: 0, ratio: 'higher' },
    { key: 'p99Ms', label: 'p99 ms', digits: 0, ratio: 'lower' },
  ],
  groups: [
    {
      label: '32 in 2 processes',
      rows: [
        { label: 'raw: pub/sub wake-one prototype', baseline: true, median: { handoffsPerSecond: 1000, p99Ms: 50 } },
        { label: 'dlock RedisLock', median: { handoffsPerSecond: 500, p99Ms: 40 }, ratios: { handoffsPerSecond: 0.5, p99Ms: 0.8 } },
        { label: 'peer <&> "lib"', settings: 'retry 2 ms', median: { handoffsPerSecond: 250 }, ratios: { handoffsPerSecond: 0.25 } },
        { label: 'dlock EtcdMutex', skipped: 'dist does not load' },
      ],
    },
    {
      label: '64 in 4 processes',
      rows: [
        { label: 'raw: pub/sub wake-one prototype', baseline: true, median: { handoffsPerSecond: 2000 } },
        { label: 'dlock RedisLock', median: { handoffsPerSecond: 4000 }, ratios: { handoffsPerSecond: 2 } },
      ],
    },
  ],
};

function hotChart(): Chart {
  const chart = sectionChart(hotSection);
  if (!chart) throw new Error('no chart for the hot section');
  return chart;
}

describe('bench charts: the SVG of one section', () => {
  it('is well-formed SVG with the title, the metric and a legend of the kinds drawn', () => {
    const svg = renderBarChart(hotChart());
    checkWellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('>2. Hot key &lt;test&gt;</text>');
    expect(svg).toContain('hand-offs/s, median per row; higher is better');
    expect(svg).toContain('>dlock</text>');
    expect(svg).toContain('>baseline (ratios are to it)</text>');
    expect(svg).toContain('>peers and others</text>');
    expect(svg).not.toContain('>raw protocol</text>'); // no non-baseline raw row here
  });

  it('draws a bar per measured row, in order and by kind, and a skipped row as text', () => {
    const svg = renderBarChart(hotChart());
    expect(barsOf(svg).map((b) => b.kind)).toEqual(['baseline', 'dlock', 'other', 'baseline', 'dlock']);
    expect(svg).toContain('>dlock EtcdMutex</text>');
    expect(svg).toContain('>skipped: dist does not load</text>');
    expect(svg).toContain('>workers: 32 in 2 processes</text>');
    expect(svg).toContain('>workers: 64 in 4 processes</text>');
  });

  it('draws bar lengths proportional to the values, on one axis for all groups', () => {
    const [base, dlock, peer, base2, dlock2] = barsOf(renderBarChart(hotChart())).map((b) => b.width);
    expect(dlock! / base!).toBeCloseTo(0.5, 2);
    expect(peer! / base!).toBeCloseTo(0.25, 2);
    expect(dlock2! / base!).toBeCloseTo(4, 2);
    expect(base2! / dlock2!).toBeCloseTo(0.5, 2);
    // The axis ends at a round value >= the largest: 4,000 here, so that bar spans the plot.
    expect(dlock2).toBe(400);
    expect(renderBarChart(hotChart())).toContain('>4,000</text>');
  });

  it('labels each bar with its value and its ratio to the baseline', () => {
    const svg = renderBarChart(hotChart());
    expect(svg).toContain('>1,000 · baseline</text>');
    expect(svg).toContain('>500 · 0.50x</text>');
    expect(svg).toContain('>4,000 · 2.00x</text>');
  });

  it('escapes XML in labels', () => {
    const svg = renderBarChart(hotChart());
    expect(svg).toContain('>peer &lt;&amp;&gt; &quot;lib&quot; (retry 2 ms)</text>');
    expect(svg).not.toContain('<&>');
  });

  it('gives the same bytes for the same section', () => {
    expect(renderBarChart(hotChart())).toBe(renderBarChart(hotChart()));
  });
});

describe('bench charts: what a section shows', () => {
  it('draws the first metric with a ratio, a named chartMetric, or else the first metric', () => {
    expect(chartMetric(hotSection)?.key).toBe('handoffsPerSecond');
    expect(chartMetric({ ...hotSection, chartMetric: 'p99Ms' })?.key).toBe('p99Ms');
    const noRatios = { ...hotSection, metrics: hotSection.metrics.map(({ key, label, digits }) => ({ key, label, digits })) };
    expect(chartMetric(noRatios)?.key).toBe('acquisitionsPerSecond');
  });

  it('has no chart for a failed section or one without a measured row', () => {
    expect(sectionChart({ ...hotSection, error: 'redis did not start' })).toBeUndefined();
    const allSkipped = { ...hotSection, groups: [{ label: '1', rows: [{ label: 'dlock RedisLock', skipped: 'no dist' }] }] };
    expect(sectionChart(allSkipped)).toBeUndefined();
  });

  it('draws every committed result file, a bar for each row with a figure', () => {
    const files = readdirSync(path.join(benchDir, 'results')).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const result = JSON.parse(readFileSync(path.join(benchDir, 'results', file), 'utf8')) as BenchResult;
      for (const section of result.sections) {
        const chart = sectionChart(section);
        if (!chart) continue;
        const svg = renderBarChart(chart);
        checkWellFormed(svg);
        const measured = chart.groups.flatMap((g) => g.bars).filter((b) => b.value !== undefined).length;
        expect(barsOf(svg).length, `${file} ${section.id}`).toBe(measured);
      }
    }
  });
});

describe('bench charts: beside the report', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const markdown = ['# results', '', '## 2. Hot key <test>', '', 'Hand-offs per second.', '', '## 5. Other', '', 'text', ''].join('\n');

  it('writes charts/<report>/<section>.svg and links it under the section heading, once', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bench-charts-'));
    const report = path.join(dir, 'RESULTS-x.md');
    const stale = path.join(dir, 'charts', 'RESULTS-x', 'gone.svg');
    const kept = path.join(dir, 'charts', 'RESULTS-x', 'notes.txt');
    writeCharts({ sections: [hotSection] }, report); // creates the folder
    writeFileSync(stale, '<svg/>');
    writeFileSync(kept, 'not a chart');

    const links = writeCharts({ sections: [hotSection, { ...hotSection, id: 'failed', error: 'x' }] }, report);
    expect(links).toEqual([{ title: '2. Hot key <test>', href: 'charts/RESULTS-x/hot.svg' }]);
    expect(readFileSync(path.join(dir, 'charts', 'RESULTS-x', 'hot.svg'), 'utf8')).toBe(renderBarChart(hotChart()));
    expect(existsSync(stale)).toBe(false); // a chart no section draws any more
    expect(existsSync(kept)).toBe(true);

    const linked = linkCharts(markdown, links);
    expect(linked.split('\n').slice(2, 7)).toEqual(['## 2. Hot key <test>', '', '![2. Hot key <test>](charts/RESULTS-x/hot.svg)', '', 'Hand-offs per second.']);
    expect(linkCharts(linked, links)).toBe(linked);
    const moved = linkCharts(linked, [{ title: '2. Hot key <test>', href: 'charts/RESULTS-y/hot.svg' }]);
    expect(moved.match(/!\[/g)?.length).toBe(1);
    expect(moved).toContain('](charts/RESULTS-y/hot.svg)');
  });
});
