import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

// Two entries: the harness and safety checker (ESM + CJS; `shims` gives the CJS build
// `import.meta.url`, used to find worker.mjs) and the contract suite (ESM only: it imports
// vitest, which cannot be required). The package's build script empties dist/ first.
export default defineConfig([
  packageBuild({ index: 'src/index.ts' }, { clean: false, shims: true }),
  packageBuild({ contract: 'src/contract/index.ts' }, { clean: false, format: ['esm'] }),
]);
