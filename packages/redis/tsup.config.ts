import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

// Two entries: the package, and `@dlock/redis/protocol` (shared with @dlock/redlock, internal).
// The package imports the protocol by that name, kept external: one copy at runtime.
export default defineConfig(
  packageBuild({ index: 'src/index.ts', protocol: 'src/protocol/index.ts' }, { external: ['@dlock/redis/protocol'] }),
);
