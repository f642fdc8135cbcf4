// One build configuration for every package: ESM + CJS + .d.ts/.d.cts, Node 20 target.
import { dirname, resolve } from 'node:path';
import type { Options } from 'tsup';

/**
 * Lua scripts are imported as `./lua/x.lua?raw`: Vite's suffix, so vitest loads their text.
 * esbuild has no such suffix, so this strips it and the `.lua` text loader does the rest.
 */
const rawSuffix = {
  name: 'raw-suffix',
  setup(build: { onResolve: (o: { filter: RegExp }, cb: (a: { path: string; importer: string }) => { path: string }) => void }) {
    build.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(dirname(args.importer), args.path.slice(0, -'?raw'.length)),
    }));
  },
};

export function packageBuild(
  entry: Record<string, string> = { index: 'src/index.ts' },
  overrides: Partial<Options> = {},
): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    outDir: 'dist',
    loader: { '.lua': 'text' },
    esbuildPlugins: [rawSuffix],
    ...overrides,
  };
}
