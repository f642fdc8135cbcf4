// One horizontal bar chart as SVG text, from a chart of chart-data.mjs: a bar per row, grouped
// by the section's row groups, on one linear axis from 0, each bar labelled with its value and
// its ratio to the baseline. Text widths are estimated (no font metrics here); the same chart
// always gives the same bytes.
import { barKinds } from './chart-data.mjs';
import { formatNumber, formatTick, niceAxis } from './scale.mjs';
import { element, escapeXml } from './xml.mjs';

const layout = {
  margin: 16,
  titleY: 26,
  subtitleY: 46,
  legendY: 66,
  plotTop: 88,
  groupHeader: 22,
  rowHeight: 20,
  barHeight: 13,
  groupGap: 8,
  plotWidth: 400,
  valueRoom: 150,
  charWidth: 6.8, // a generous mean width of a 12 px sans-serif character, to size the label column
  legendCharWidth: 6.2, // legend entries sit closer than the label column (sized generously, 6.8)
  maxLabelChars: 70,
  minLabelWidth: 140,
};

const colours = { text: '#1f2328', muted: '#59636e', grid: '#d1d9e0', axis: '#59636e' };

/** Fill and outline of each kind of bar: dlock solid blue, the baseline grey outlined, raw rows outlined dashed, others orange. */
export const barStyles = {
  dlock: { fill: '#0969da', legend: 'dlock' },
  baseline: { fill: '#d1d9e0', stroke: '#59636e', legend: 'baseline (ratios are to it)' },
  raw: { fill: '#ffffff', stroke: '#59636e', dash: '3 2', legend: 'raw protocol' },
  other: { fill: '#f0883e', legend: 'peers and others' },
};

const fontFamily = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

function clip(text, chars) {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

function text(x, y, content, attrs = {}) {
  return element('text', { x, y, ...attrs }, escapeXml(content));
}

function subtitleOf(chart) {
  const parts = [`${chart.metric.label}, median per row`];
  if (chart.metric.better) parts.push(`${chart.metric.better} is better`);
  if (chart.ratioLabel) parts.push(`0.95x = ratio to the baseline of the same group (${chart.ratioLabel})`);
  return parts.join('; ');
}

function legend(chart, y) {
  const used = new Set(chart.groups.flatMap((g) => g.bars.map((b) => b.kind)));
  const items = [];
  let x = layout.margin;
  for (const kind of barKinds.filter((k) => used.has(k))) {
    const style = barStyles[kind];
    items.push(swatch(kind, x, y - 10, 12, 12), text(x + 17, y, style.legend, { fill: colours.muted }));
    x += 17 + style.legend.length * layout.legendCharWidth + 18;
  }
  return items.join('');
}

function swatch(kind, x, y, width, height) {
  const style = barStyles[kind];
  return element('rect', {
    x,
    y,
    width,
    height,
    fill: style.fill,
    stroke: style.stroke,
    'stroke-width': style.stroke ? 1 : undefined,
    'stroke-dasharray': style.dash,
  });
}

function valueLabel(bar, digits) {
  const value = formatNumber(bar.value, digits);
  if (bar.kind === 'baseline') return `${value} · baseline`;
  return bar.ratio === undefined ? value : `${value} · ${formatRatio(bar.ratio)}x`;
}

/** 0.95, 12.3, 9,961: two decimals where they matter, none on a ratio in the hundreds. */
function formatRatio(ratio) {
  return formatNumber(ratio, ratio >= 100 ? 0 : ratio >= 10 ? 1 : 2);
}

/** The SVG text of `chart` (see chart-data.mjs `sectionChart`). */
export function renderBarChart(chart) {
  const bars = chart.groups.flatMap((g) => g.bars);
  const longest = Math.min(layout.maxLabelChars, Math.max(...bars.map((b) => b.label.length)));
  const labelWidth = Math.max(layout.minLabelWidth, Math.ceil(longest * layout.charWidth) + 12);
  const x0 = layout.margin + labelWidth;
  const width = x0 + layout.plotWidth + layout.valueRoom + layout.margin;
  const axis = niceAxis(Math.max(0, ...bars.map((b) => b.value ?? 0)));
  const scale = (value) => (Math.max(0, value) / axis.top) * layout.plotWidth;
  // A measured value above 0 keeps a sliver of bar, so it does not read as missing.
  const barLength = (value) => (value > 0 ? Math.max(1, scale(value)) : 0);

  const rows = [];
  let y = layout.plotTop;
  for (const group of chart.groups) {
    rows.push(text(layout.margin, y + 15, group.label, { 'font-weight': 'bold' }));
    y += layout.groupHeader;
    for (const bar of group.bars) {
      const middle = y + layout.rowHeight / 2;
      const label = clip(bar.label, layout.maxLabelChars);
      const tooltip = label === bar.label ? '' : element('title', {}, escapeXml(bar.label));
      rows.push(element('text', { x: x0 - 8, y: middle + 4, 'text-anchor': 'end' }, `${tooltip}${escapeXml(label)}`));
      if (bar.value === undefined) {
        rows.push(text(x0 + 6, middle + 4, clip(bar.missing, 60), { fill: colours.muted, 'font-style': 'italic' }));
      } else {
        const length = barLength(bar.value);
        const style = barStyles[bar.kind];
        rows.push(
          element('rect', {
            class: `bar ${bar.kind}`,
            x: x0,
            y: middle - layout.barHeight / 2,
            width: length,
            height: layout.barHeight,
            fill: style.fill,
            stroke: style.stroke,
            'stroke-width': style.stroke ? 1 : undefined,
            'stroke-dasharray': style.dash,
          }),
          text(x0 + length + 6, middle + 4, valueLabel(bar, chart.metric.digits)),
        );
      }
      y += layout.rowHeight;
    }
    y += layout.groupGap;
  }
  const plotBottom = y;

  const grid = axis.ticks.map((tick) => {
    const x = x0 + scale(tick);
    return (
      element('line', { x1: x, y1: layout.plotTop - 4, x2: x, y2: plotBottom, stroke: tick === 0 ? colours.axis : colours.grid, 'stroke-width': 1 }) +
      text(x, plotBottom + 16, formatTick(tick, axis.step), { 'text-anchor': 'middle', fill: colours.muted })
    );
  });
  const axisTitle = text(x0 + layout.plotWidth / 2, plotBottom + 34, chart.metric.label, { 'text-anchor': 'middle', fill: colours.muted });
  const height = plotBottom + 34 + layout.margin;

  const body = [
    element('title', {}, escapeXml(chart.title)),
    element('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    text(layout.margin, layout.titleY, chart.title, { 'font-size': 15, 'font-weight': 'bold' }),
    text(layout.margin, layout.subtitleY, subtitleOf(chart), { fill: colours.muted }),
    legend(chart, layout.legendY),
    ...grid,
    ...rows,
    axisTitle,
  ];
  const root = {
    xmlns: 'http://www.w3.org/2000/svg',
    width,
    height,
    viewBox: `0 0 ${Math.round(width * 10) / 10} ${height}`,
    role: 'img',
    'aria-label': chart.title,
    'font-family': fontFamily,
    'font-size': 12,
    fill: colours.text,
  };
  return `${element('svg', root, `\n${body.join('\n')}\n`)}\n`;
}
