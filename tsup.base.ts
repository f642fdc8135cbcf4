// One build configuration for every package: ESM + CJS + .d.ts/.d.cts, Node 20 target.
import type { Options } from 'tsup';

export function packageBuild(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
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
  };
}
