import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

// ESM only: the package is a command (bin/dlock.mjs imports dist/index.js) with a small
// programmatic entry (`main`, `parseBackend`, exit codes); the backends stay external and are
// loaded only when a command names them.
export default defineConfig(packageBuild({ index: 'src/index.ts' }, { format: ['esm'] }));
