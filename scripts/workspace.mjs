// The workspace's packages, read from disk: every folder under packages/ that has a
// package.json. The scripts take the list of packages from here instead of naming them, so a
// package added (or removed) under packages/ is checked, packed, linted and benchmarked at once.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing slash. */
export const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Every package under packages/, sorted by folder: `{ name, folder, dir, srcDir, manifest,
 * private }` (`dir` and `srcDir` absolute, `manifest` the parsed package.json).
 */
export function workspacePackages() {
  const packagesDir = join(root, 'packages');
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .flatMap((folder) => {
      const dir = join(packagesDir, folder);
      const manifestPath = join(dir, 'package.json');
      if (!existsSync(manifestPath)) return [];
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      return [{ name: manifest.name, folder, dir, srcDir: join(dir, 'src'), manifest, private: manifest.private === true }];
    });
}

/** The packages that are published (not `"private": true`). */
export function publishedPackages() {
  return workspacePackages().filter((pkg) => !pkg.private);
}

/**
 * The specifiers a user can import from a package, one per subpath of its `exports` map
 * (`./package.json` left out): `{ specifier, esmOnly }`, `esmOnly` when the entry has no
 * `require` condition.
 */
export function entryPoints(pkg) {
  const exports = pkg.manifest.exports;
  if (exports === undefined || typeof exports === 'string') return [{ specifier: pkg.name, esmOnly: false }];
  return Object.entries(exports)
    .filter(([subpath]) => subpath !== './package.json')
    .map(([subpath, target]) => ({
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, '')}`,
      esmOnly: typeof target === 'object' && target !== null && !('require' in target),
    }));
}
