// `node bench/charts.mjs <results json> [out dir]`: the SVG charts of an existing results file
// (one per section, see src/charts/). With an out dir, only the SVGs are written there. Without,
// they go where the bench puts them, beside the report that names the JSON (bench/charts/<report>/,
// e.g. RESULTS.md -> charts/RESULTS/), and that report gets its chart links under the section
// headings; nothing else in it changes.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chartsDirOf, linkCharts, writeChartFiles, writeCharts } from './src/charts/index.mjs';

const [jsonArg, outArg, ...extra] = process.argv.slice(2);
if (!jsonArg || extra.length > 0 || jsonArg.startsWith('--')) {
  console.error('usage: node bench/charts.mjs <results json> [out dir]');
  process.exit(2);
}
const jsonPath = path.resolve(jsonArg);
const result = JSON.parse(readFileSync(jsonPath, 'utf8'));
if (!Array.isArray(result.sections)) {
  console.error(`${jsonArg}: not a bench results file (no sections)`);
  process.exit(2);
}

const show = (file) => path.relative(process.cwd(), file) || '.';

if (outArg) {
  const written = writeChartFiles(result, path.resolve(outArg));
  for (const c of written) console.log(`wrote ${show(c.file)}`);
  process.exit(0);
}

// The bench's output folder: the JSON lies at <out>/<jsonFile> (jsonFile: results/<name>.json).
const jsonFile = result.jsonFile ?? path.join('results', path.basename(jsonPath));
const outDir = jsonPath.endsWith(path.normalize(jsonFile)) ? jsonPath.slice(0, -path.normalize(jsonFile).length) : path.dirname(path.dirname(jsonPath));
const reports = readdirSync(outDir)
  .filter((name) => /^RESULTS.*\.md$/.test(name))
  .map((name) => path.join(outDir, name))
  .filter((file) => readFileSync(file, 'utf8').includes(`\`${jsonFile.split(path.sep).join('/')}\``));

if (reports.length === 0) {
  const dir = path.join(outDir, 'charts', path.basename(jsonPath, '.json'));
  const written = writeChartFiles(result, dir);
  for (const c of written) console.log(`wrote ${show(c.file)}`);
  console.log(`(no RESULTS*.md in ${show(outDir)} names ${jsonFile}: no report linked)`);
  process.exit(0);
}
for (const report of reports) {
  const links = writeCharts(result, report);
  writeFileSync(report, linkCharts(readFileSync(report, 'utf8'), links));
  console.log(`wrote ${links.length} charts in ${show(chartsDirOf(report))} and linked them from ${show(report)}`);
}
