export * from './contract/index.js';
export * from './servers/index.js';
