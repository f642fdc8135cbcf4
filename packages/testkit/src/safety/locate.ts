import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The directory of this module: `src/safety` when run from source (vitest), `dist` once bundled
 * by tsup. The CJS build has no `import.meta.url` but a `__dirname`.
 */
function moduleDir(): string {
  if (typeof __dirname === 'string') return __dirname;
  return path.dirname(fileURLToPath(import.meta.url));
}

/** The root of the `@dlock/testkit` package (the directory holding its package.json). */
export function testkitRoot(): string {
  for (let dir = moduleDir(); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@dlock/testkit') {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`safety checker: no @dlock/testkit package.json above ${moduleDir()}`);
  }
}

/**
 * worker.mjs: a plain-Node asset that tsup does not bundle. It ships in the package's `src`
 * (the `files` list has it), so source and built checker both find it there.
 */
export function workerPath(): string {
  const file = path.join(testkitRoot(), 'src', 'safety', 'worker.mjs');
  if (!existsSync(file)) throw new Error(`safety checker: ${file} is missing`);
  return file;
}

/** Where a backend's built ESM entry is, or why it cannot be used. */
export type ModuleLocation = { ok: true; url: string; file: string } | { ok: false; reason: string };

/**
 * The built ESM entry of `@dlock/<pkg>`: `packages/<pkg>/dist/index.js` next to the testkit in
 * this monorepo, else wherever Node resolves the package from the testkit. Workers import it
 * by file URL, since they cannot compile TypeScript.
 */
export function backendModule(pkg: string): ModuleLocation {
  const sibling = path.join(testkitRoot(), '..', pkg);
  let file: string | undefined;
  if (existsSync(path.join(sibling, 'package.json'))) {
    file = path.join(sibling, 'dist', 'index.js');
    if (!existsSync(path.join(sibling, 'src', 'index.ts')) && !existsSync(file)) {
      return { ok: false, reason: `@dlock/${pkg} has no source entry yet (packages/${pkg}/src/index.ts)` };
    }
  } else {
    try {
      const manifest = createRequire(path.join(testkitRoot(), 'package.json')).resolve(`@dlock/${pkg}/package.json`);
      file = path.join(path.dirname(manifest), 'dist', 'index.js');
    } catch {
      return { ok: false, reason: `@dlock/${pkg} is not installed` };
    }
  }
  if (!existsSync(file)) {
    return { ok: false, reason: `@dlock/${pkg} is not built: ${file} is missing (run: pnpm --filter @dlock/${pkg} build)` };
  }
  return { ok: true, url: pathToFileURL(file).href, file };
}
