import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

// One run for the whole monorepo; each package's tests live in packages/<name>/test.
// Tests import the packages' sources (not dist) so a failing test points at the real line.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@dlock\/testkit\/contract$/, replacement: src('testkit/src/contract/index.ts') },
      { find: /^@dlock\/redis\/protocol$/, replacement: src('redis/src/protocol/index.ts') },
      ...['core', 'testkit', 'redis', 'etcd', 'redlock'].map((name) => ({
        find: new RegExp(`^@dlock/${name}$`),
        replacement: src(`${name}/src/index.ts`),
      })),
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
