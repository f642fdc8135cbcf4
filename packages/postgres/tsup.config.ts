import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

// One entry; `pg` (a peer dependency) and `@dlock/core` stay external.
export default defineConfig(packageBuild());
