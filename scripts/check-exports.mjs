#!/usr/bin/env node
// Fails the build when a package's `exports` map and its built files disagree:
// every path the map (or main/module/types) names must exist, every entry file tsup built
// must be reachable through the map, and the ESM and CJS builds must export the same names.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workspacePackages } from './workspace.mjs';

const problems = [];

function targets(node, out = []) {
  if (typeof node === 'string') out.push(node);
  else if (node && typeof node === 'object') for (const v of Object.values(node)) targets(v, out);
  return out;
}

const entryFile = /\.(js|cjs|d\.ts|d\.cts)$/;

for (const { dir, manifest: pkg } of workspacePackages()) {
  if (!pkg.exports) {
    problems.push(`${pkg.name}: no "exports" map`);
    continue;
  }
  const named = new Set([...targets(pkg.exports), pkg.main, pkg.module, pkg.types].filter(Boolean));
  for (const target of named) {
    if (!existsSync(join(dir, target))) problems.push(`${pkg.name}: "${target}" is named in package.json but was not built`);
  }
  const distDir = join(dir, 'dist');
  if (!existsSync(distDir)) {
    problems.push(`${pkg.name}: dist/ missing (run the build first)`);
    continue;
  }
  const reachable = new Set([...named].map((t) => relative(dir, join(dir, t))));
  for (const file of readdirSync(distDir)) {
    const rel = `dist/${file}`;
    if (entryFile.test(file) && !reachable.has(rel)) problems.push(`${pkg.name}: built "${rel}" is not reachable through "exports"`);
  }
  const dot = pkg.exports['.'];
  if (dot?.import?.default && dot?.require?.default) {
    const esm = await import(pathToFileURL(join(dir, dot.import.default)).href);
    const cjs = createRequire(join(dir, 'package.json'))(join(dir, dot.require.default));
    const a = Object.keys(esm).filter((k) => k !== 'default').sort().join(',');
    const b = Object.keys(cjs).filter((k) => k !== 'default' && k !== '__esModule').sort().join(',');
    if (a !== b) problems.push(`${pkg.name}: ESM exports [${a}] differ from CJS exports [${b}]`);
  }
}

if (problems.length > 0) {
  console.error(`exports check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('exports check: every package map matches its built files (ESM and CJS agree)');
