// Real redis/etcd/postgres servers for tests, on loopback ports: local binaries or Docker containers.
export type {
  EtcdCluster,
  EtcdOptions,
  EtcdServer,
  RedisOptions,
  RedisServer,
  RestartOptions,
  ServerGroup,
  ServerProcess,
} from './types.js';
export { freePort } from './ports.js';
export { serverMode, type ServerMode } from './mode.js';
export { stopAllServers } from './registry.js';
export { ServerStartError } from './local-server.js';
export { startRedis, startRedisNodes } from './redis-server.js';
export { startEtcd } from './etcd-server.js';
export { startEtcdCluster } from './etcd-cluster.js';
export { liveChildPids } from './process.js';
export type { PostgresOptions, PostgresServer } from './postgres-types.js';
export { startPostgres } from './postgres-server.js';
export { startPgBouncer, type PgBouncerOptions, type PgBouncerPoolMode, type PgBouncerServer } from './pgbouncer.js';
