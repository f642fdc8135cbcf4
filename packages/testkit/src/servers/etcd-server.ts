import { makeDataDir } from './data-dir.js';
import { etcdHealthy } from './etcd-api.js';
import { clusterToken } from './etcd-members.js';
import { LocalServer, startOrCleanUp, type LocalServerSpec } from './local-server.js';
import { requireBinary, serverMode } from './mode.js';
import { reservePorts } from './ports.js';
import type { EtcdOptions, EtcdServer } from './types.js';

/** How a member finds its cluster: the `--initial-cluster*` flags, read at each spawn. */
export interface EtcdBootstrap {
  token: string;
  state: 'new' | 'existing';
  /** `name=peerUrl,...` for every member. */
  initialCluster(): string;
}

/** Options for one local etcd process. */
export interface LocalEtcdOptions {
  binary: string;
  name: string;
  bootstrap: (self: LocalEtcdServer) => EtcdBootstrap;
  extraArgs: readonly string[];
  readyTimeoutMs?: number;
  beforeEmptyStart?: (self: LocalEtcdServer) => Promise<void>;
}

/** Small timings so a lost leader is replaced within a second or two instead of ~5 s. */
const fastElections = ['--heartbeat-interval', '100', '--election-timeout', '1000'];

/** An etcd child process (the local mode): alone, or one member of a cluster. */
export class LocalEtcdServer extends LocalServer implements EtcdServer {
  readonly name: string;

  private constructor(options: LocalEtcdOptions, ports: number[], dataDir: string) {
    const spec: LocalServerSpec = {
      kind: `etcd ${options.name}`,
      binary: options.binary,
      dataDir,
      ports,
      args: (): string[] => {
        const [client, peer] = spec.ports;
        const bootstrap = options.bootstrap(this);
        return [
          '--name', options.name,
          '--data-dir', dataDir,
          '--listen-client-urls', `http://127.0.0.1:${client}`,
          '--advertise-client-urls', `http://127.0.0.1:${client}`,
          '--listen-peer-urls', `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
          '--initial-cluster', bootstrap.initialCluster(),
          '--initial-cluster-token', bootstrap.token,
          '--initial-cluster-state', bootstrap.state,
          ...fastElections,
          // 3.4 defaults to the deprecated capnslog logger (and journald under systemd).
          '--logger', 'zap',
          '--log-outputs', 'stderr',
          ...options.extraArgs,
        ];
      },
      probe: (): Promise<boolean> => etcdHealthy(spec.ports[0] ?? 0, 1_000),
      ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
      ...(options.beforeEmptyStart === undefined ? {} : { beforeEmptyStart: () => options.beforeEmptyStart?.(this) ?? Promise.resolve() }),
    };
    super(spec);
    this.name = options.name;
  }

  /** Creates the member (ports reserved, data dir made) without starting it. */
  static async create(options: LocalEtcdOptions): Promise<LocalEtcdServer> {
    return new LocalEtcdServer(options, await reservePorts(2), makeDataDir('etcd'));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get peerPort(): number {
    return this.ports[1] ?? 0;
  }

  /** `http://127.0.0.1:<peerPort>`. */
  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }
}

async function startLocalEtcd(options: EtcdOptions): Promise<EtcdServer> {
  const token = clusterToken();
  const server = await LocalEtcdServer.create({
    binary: requireBinary('etcd'),
    name: 'dlock-etcd',
    extraArgs: options.args ?? [],
    bootstrap: (self) => ({ token, state: 'new', initialCluster: () => `${self.name}=${self.peerUrl}` }),
  });
  return startOrCleanUp(server);
}

/**
 * Starts a single-member etcd on free 127.0.0.1 client and peer ports (own temp data dir, fast
 * elections) and resolves once `/health` is true. Docker or the local binary per {@link serverMode}.
 */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  if ((await serverMode()) === 'docker') {
    const { startEtcdContainer } = await import('./docker.js');
    return startEtcdContainer(options);
  }
  return startLocalEtcd(options);
}
