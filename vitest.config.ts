import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

// One run for the whole monorepo; each package's tests live in packages/<name>/test.
// Tests import the packages' sources (not dist) so a failing test points at the real line.
export default defineConfig({
  resolve: {
    // Any workspace package (`@dlock/<folder>`) and its subpath entries (`@dlock/<folder>/<entry>`
    // -> src/<entry>/index.ts), so a new package needs no line here.
    alias: [
      { find: /^@dlock\/([a-z0-9-]+)\/([a-z0-9-]+)$/, replacement: src('$1/src/$2/index.ts') },
      { find: /^@dlock\/([a-z0-9-]+)$/, replacement: src('$1/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
