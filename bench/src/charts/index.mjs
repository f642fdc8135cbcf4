// Charts of the bench results: one SVG bar chart per section, written beside the markdown report
// and linked under each section's heading. No dependencies; the same JSON gives the same files.
export { barKinds, chartMetric, rowKind, sectionChart } from './chart-data.mjs';
export { linkCharts } from './link-charts.mjs';
export { barStyles, renderBarChart } from './render-svg.mjs';
export { chartsDirOf, sectionCharts, writeChartFiles, writeCharts } from './write-charts.mjs';
