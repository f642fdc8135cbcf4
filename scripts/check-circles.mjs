#!/usr/bin/env node
// Import circles in the packages' TypeScript sources (packages/*/src): a module that reaches
// itself through its imports, type-only and dynamic imports included. Fails listing each circle.
// Run by `pnpm lint` (scripts/lint.mjs) and on its own: `node scripts/check-circles.mjs`.
//
// madge builds the graph. It reads the root tsconfig.base.json, so `./x.js` specifiers resolve
// to `./x.ts` (NodeNext style) and `@dlock/...` to the other packages' sources (its `paths`):
// a circle across two packages is found too. Lua scripts imported with `?raw` are text, never
// a step in a circle; any other specifier madge cannot resolve fails the check, since a circle
// through it would go unseen.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import madge from 'madge';
import { root, workspacePackages } from './workspace.mjs';

/** Resolves to `{ circles: string[][], unresolved: string[], files: number }` (paths from the root). */
export async function findCircles() {
  const sources = workspacePackages()
    .map((pkg) => pkg.srcDir)
    .filter((dir) => existsSync(dir));
  const graph = await madge(sources, {
    baseDir: root,
    fileExtensions: ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs'],
    excludeRegExp: [/\.d\.[cm]?ts$/],
    tsConfig: join(root, 'tsconfig.base.json'),
  });
  const unresolved = graph.warnings().skipped.filter((specifier) => !specifier.endsWith('?raw'));
  return { circles: graph.circular(), unresolved, files: Object.keys(graph.obj()).length, sources };
}

/** One line per problem: each circle (closed, `a > b > a`) and each specifier madge could not follow. */
export function describeFindings({ circles, unresolved }) {
  return [
    ...circles.map((circle) => `import circle: ${[...circle, circle[0]].join(' > ')}`),
    ...unresolved.map((specifier) => `import not resolved (a circle through it would go unseen; add it to tsconfig.base.json paths?): ${specifier}`),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await findCircles();
  const findings = describeFindings(result);
  if (findings.length > 0) {
    console.error(`check-circles: ${findings.length} finding(s)\n  ${findings.join('\n  ')}`);
    process.exit(1);
  }
  const where = result.sources.map((dir) => relative(root, dir)).join(', ');
  console.log(`check-circles: no import circle in ${result.files} files (${where})`);
}
