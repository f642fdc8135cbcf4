import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// One run for the whole monorepo; each package's tests live in packages/<name>/test.
// Tests import the packages' sources (not dist) so a failing test points at the real line.
export default defineConfig({
  resolve: {
    alias: {
      '@dlock/core': src('core'),
      '@dlock/testkit': src('testkit'),
      '@dlock/redis': src('redis'),
      '@dlock/etcd': src('etcd'),
      '@dlock/redlock': src('redlock'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
