// `@dlock/testkit`: real servers for tests and small test helpers (no vitest import here, so
// it loads from CommonJS too). The contract suite is `@dlock/testkit/contract`.
export * from './util.js';
export * from './servers/index.js';
export * from './safety/index.js';
