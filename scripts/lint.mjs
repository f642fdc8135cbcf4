#!/usr/bin/env node
// Project rules a type checker cannot see. Fails with one line per finding.
//  - every Lua script opens with a KEYS/ARGV/returns header
//  - no focused or skipped tests (`.only`, `.skip`, `.todo`) and no TODO/FIXME stubs in sources
//  - no `console.log` left in library sources
//  - servers in tests bind to loopback only (no 0.0.0.0)
//  - library sources name no tracker issues ("issue 6"): a comment says the reason itself
//  - no import circles in packages/*/src (scripts/check-circles.mjs, with madge)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describeFindings, findCircles } from './check-circles.mjs';
import { root } from './workspace.mjs';

const skipDirs = new Set(['node_modules', 'dist', '.git', 'coverage', 'results', 'api']);
const findings = [];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name) || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

for (const file of walk(root)) {
  const rel = relative(root, file);
  if (rel.startsWith('scripts/')) continue;
  const text = () => readFileSync(file, 'utf8');
  if (file.endsWith('.lua')) {
    // The header: the comment lines the script opens with.
    const lines = text().split('\n');
    const end = lines.findIndex((line) => !line.startsWith('--'));
    const head = lines.slice(0, end < 0 ? lines.length : end).join('\n');
    for (const word of ['KEYS', 'ARGV', 'eturns']) {
      if (!head.includes(word)) findings.push(`${rel}: Lua header must describe KEYS, ARGV and what it returns (missing ${word})`);
    }
    continue;
  }
  if (!/\.(ts|mts|cts|mjs|js)$/.test(file)) continue;
  const lines = text().split('\n');
  const isTest = /\/test\//.test(rel) || /\.test\./.test(rel);
  const isLibrarySource = /^packages\/[^/]+\/src\//.test(rel);
  lines.forEach((line, i) => {
    const at = `${rel}:${i + 1}`;
    if (/\b(it|test|describe)\.(only|skip|todo)\b/.test(line) || /\b(it|test|describe)\.skipIf\b/.test(line)) {
      findings.push(`${at}: focused/skipped test`);
    }
    if (/\b(TODO|FIXME|XXX)\b/.test(line)) findings.push(`${at}: TODO/FIXME left in code`);
    if (isLibrarySource && !rel.includes('/bin/') && /\bconsole\.log\(/.test(line)) findings.push(`${at}: console.log in library source`);
    if (isTest && /0\.0\.0\.0/.test(line)) findings.push(`${at}: tests bind to 127.0.0.1 only`);
    if (isLibrarySource && /\bissue #?\d/i.test(line)) findings.push(`${at}: issue reference in library source (say the reason instead)`);
  });
}

const circles = await findCircles();
findings.push(...describeFindings(circles));

if (findings.length > 0) {
  console.error(`lint: ${findings.length} finding(s)\n  ${findings.join('\n  ')}`);
  process.exit(1);
}
console.log(`lint: clean (no import circle in ${circles.files} source files)`);
