import { makeDataDir } from './data-dir.js';
import { LocalServer, startOrCleanUp, type LocalServerSpec } from './local-server.js';
import { requireBinary, serverMode } from './mode.js';
import { reservePorts } from './ports.js';
import { pingRedis } from './redis-probe.js';
import type { RedisOptions, RedisServer, ServerGroup } from './types.js';

/** A redis-server child process (the local mode). */
class LocalRedisServer extends LocalServer implements RedisServer {
  constructor(
    binary: string,
    ports: number[],
    private readonly password: string | undefined,
    dataDir: string,
    extraArgs: readonly string[],
  ) {
    const spec: LocalServerSpec = {
      kind: 'redis',
      binary,
      dataDir,
      ports,
      args: (): string[] => [
        '--bind', '127.0.0.1',
        '--port', String(spec.ports[0]),
        // No persistence: a restart comes back empty, and nothing slow hits the disk.
        '--save', '',
        '--appendonly', 'no',
        '--dir', dataDir,
        ...(password === undefined ? [] : ['--requirepass', password]),
        ...extraArgs,
      ],
      probe: (): Promise<boolean> => pingRedis(spec.ports[0] ?? 0, password),
    };
    super(spec);
  }

  get url(): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis://${auth}127.0.0.1:${this.port}`;
  }
}

async function startLocalRedis(options: RedisOptions): Promise<RedisServer> {
  const binary = requireBinary('redis-server');
  const server = new LocalRedisServer(binary, await reservePorts(1), options.password, makeDataDir('redis'), options.args ?? []);
  return startOrCleanUp(server);
}

/**
 * Starts one redis-server on a free 127.0.0.1 port (no persistence, own temp dir) and resolves
 * once it answers PING. Uses Docker or the local binary as {@link serverMode} decides.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  if ((await serverMode()) === 'docker') {
    const { startRedisContainer } = await import('./docker.js');
    return startRedisContainer(options);
  }
  return startLocalRedis(options);
}

/** Starts `n` independent redis servers (e.g. for Redlock), with one `stop()` for all of them. */
export async function startRedisNodes(n: number, options: RedisOptions = {}): Promise<ServerGroup<RedisServer>> {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`startRedisNodes: n must be an integer >= 1, got ${String(n)}`);
  const results = await Promise.allSettled(Array.from({ length: n }, () => startRedis(options)));
  const servers = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(servers.map((server) => server.stop()));
    throw failed.reason;
  }
  return groupOf(servers);
}

/** Adds a `stop()` that stops every server of the list. */
export function groupOf<T extends { stop(): Promise<void> }>(servers: T[]): T[] & { stop(): Promise<void> } {
  return Object.assign(servers, {
    async stop(): Promise<void> {
      await Promise.all(servers.map((server) => server.stop()));
    },
  });
}
