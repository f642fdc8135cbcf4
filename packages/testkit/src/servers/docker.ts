// The Docker mode: the same servers in containers through testcontainers. It cannot run on a
// machine without an engine, so it stays small; the local mode is the well-tested path.
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { etcdHealthy } from './etcd-api.js';
import { clusterToken, findLeader, stopMembers } from './etcd-members.js';
import { releasePorts, reservePorts } from './ports.js';
import { pingRedis } from './redis-probe.js';
import { track, untrack } from './registry.js';
import type { EtcdCluster, EtcdOptions, EtcdServer, RedisOptions, RedisServer, RestartOptions } from './types.js';

const REDIS_IMAGE = 'redis:7';
const ETCD_IMAGE = 'quay.io/coreos/etcd:v3.5.17';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** testcontainers publishes ports on every interface; the harness promises loopback only. */
class LoopbackContainer extends GenericContainer {
  withLoopbackPort(containerPort: number, hostPort: number): this {
    this.withExposedPorts({ container: containerPort, host: hostPort });
    this.hostConfig.PortBindings = {
      ...this.hostConfig.PortBindings,
      [`${containerPort}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }],
    };
    return this;
  }
}

interface ContainerSpec {
  kind: string;
  /** Host ports, client port first; fixed for the server's life so restart keeps them. */
  ports: number[];
  /** A fresh container definition (a new container is made for an empty restart). */
  build(): GenericContainer;
  probe(): Promise<boolean>;
}

/** One server in a container: the {@link ServerProcess} lifecycle over the container runtime. */
class ContainerServer {
  readonly host = '127.0.0.1' as const;
  readonly pid = undefined;
  readonly dataDir = undefined;
  private container: StartedTestContainer | undefined;
  private stopped: Promise<void> | undefined;

  constructor(protected readonly spec: ContainerSpec) {
    track(this);
  }

  get port(): number {
    return this.spec.ports[0] ?? 0;
  }

  async start(): Promise<void> {
    this.container = await this.spec.build().start();
    await this.waitReady();
  }

  async stop(): Promise<void> {
    this.stopped ??= (async () => {
      try {
        if (this.container !== undefined) {
          await this.unpauseIfPaused();
          await this.container.stop({ remove: true, timeout: 3_000 });
        }
      } finally {
        releasePorts(this.spec.ports);
        untrack(this);
      }
    })();
    return this.stopped;
  }

  async kill(): Promise<void> {
    await (await this.dockerContainer()).kill({ signal: 'SIGKILL' });
  }

  async pause(): Promise<void> {
    await (await this.dockerContainer()).pause();
  }

  async resume(): Promise<void> {
    await (await this.dockerContainer()).unpause();
  }

  async restart(options: RestartOptions = {}): Promise<void> {
    if (this.stopped !== undefined) throw new Error(`${this.spec.kind} was stopped; stop() is final`);
    const container = this.container;
    if (container === undefined) throw new Error(`${this.spec.kind}: never started`);
    // A paused container would only get its stop signal once the timeout ran out.
    await this.unpauseIfPaused();
    if (options.empty === true) {
      // The data lives in the container: a new container is an empty server on the same host port.
      await container.stop({ remove: true, timeout: 3_000 });
      await this.start();
    } else {
      // `docker restart` also starts a killed (exited) container.
      await container.restart({ timeout: 3_000 });
      await this.waitReady();
    }
  }

  private async unpauseIfPaused(): Promise<void> {
    const container = this.container;
    if (container === undefined) return;
    const docker = (await getContainerRuntimeClient()).container.getById(container.getId());
    const inspect = await docker.inspect().catch(() => undefined);
    if (inspect?.State.Paused === true) await docker.unpause();
  }

  private async dockerContainer() {
    const container = this.container;
    if (container === undefined || this.stopped !== undefined) throw new Error(`${this.spec.kind} is not running`);
    const client = await getContainerRuntimeClient();
    return client.container.getById(container.getId());
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await this.spec.probe())) {
      if (Date.now() > deadline) {
        const logs = await this.tailLogs();
        throw new Error(`${this.spec.kind} container on 127.0.0.1:${this.port} not ready after 30 s; last output:\n${logs}`);
      }
      await sleep(100);
    }
  }

  private async tailLogs(): Promise<string> {
    try {
      const stream = await this.container?.logs({ tail: 20 });
      if (stream === undefined) return '  (no container)';
      let text = '';
      // logs() without follow ends by itself.
      for await (const chunk of stream) text += String(chunk);
      return text;
    } catch (error) {
      return `  (logs unavailable: ${String(error)})`;
    }
  }
}

class RedisContainer extends ContainerServer implements RedisServer {
  constructor(
    port: number,
    private readonly password: string | undefined,
    args: readonly string[],
  ) {
    super({
      kind: 'redis',
      ports: [port],
      build: () =>
        new LoopbackContainer(REDIS_IMAGE)
          .withLoopbackPort(6379, port)
          .withCommand([
            'redis-server', '--save', '', '--appendonly', 'no',
            // Clients arrive from the bridge network, not loopback; the port is published on 127.0.0.1 only.
            '--protected-mode', 'no',
            ...(password === undefined ? [] : ['--requirepass', password]),
            ...args,
          ])
          .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
          .withStartupTimeout(120_000),
      probe: () => pingRedis(port, password),
    });
  }

  get url(): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis://${auth}127.0.0.1:${this.port}`;
  }
}

/** A redis:7 container published on a free 127.0.0.1 port. */
export async function startRedisContainer(options: RedisOptions): Promise<RedisServer> {
  const [port] = await reservePorts(1);
  const server = new RedisContainer(port ?? 0, options.password, options.args ?? []);
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return server;
}

interface EtcdContainerConfig {
  name: string;
  clientPort: number;
  token: string;
  /** Peer URLs must be reachable from the other containers: network aliases, not loopback. */
  peerHost: string;
  initialCluster: string;
  network?: StartedNetwork;
  args: readonly string[];
}

class EtcdContainer extends ContainerServer implements EtcdServer {
  readonly name: string;
  readonly peerPort = 2380;

  constructor(config: EtcdContainerConfig, private readonly inCluster: boolean) {
    super({
      kind: `etcd ${config.name}`,
      ports: [config.clientPort],
      build: () => {
        const container = new LoopbackContainer(ETCD_IMAGE)
          .withLoopbackPort(2379, config.clientPort)
          .withCommand([
            '/usr/local/bin/etcd',
            '--name', config.name,
            '--data-dir', '/etcd-data',
            '--listen-client-urls', 'http://0.0.0.0:2379',
            '--advertise-client-urls', `http://127.0.0.1:${config.clientPort}`,
            '--listen-peer-urls', 'http://0.0.0.0:2380',
            '--initial-advertise-peer-urls', `http://${config.peerHost}:2380`,
            '--initial-cluster', config.initialCluster,
            '--initial-cluster-token', config.token,
            '--initial-cluster-state', 'new',
            '--heartbeat-interval', '100',
            '--election-timeout', '1000',
            '--logger', 'zap',
            '--log-outputs', 'stderr',
            ...config.args,
          ])
          .withWaitStrategy(Wait.forLogMessage(/ready to serve client requests/))
          .withStartupTimeout(120_000);
        return config.network === undefined ? container : container.withNetwork(config.network).withNetworkAliases(config.peerHost);
      },
      probe: () => etcdHealthy(config.clientPort),
    });
    this.name = config.name;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  override async restart(options: RestartOptions = {}): Promise<void> {
    if (options.empty === true && this.inCluster) {
      throw new Error('restart({ empty: true }) of an etcd cluster member is supported in the local mode only');
    }
    await super.restart(options);
  }
}

/** A single-member etcd container published on a free 127.0.0.1 port. */
export async function startEtcdContainer(options: EtcdOptions): Promise<EtcdServer> {
  const [clientPort] = await reservePorts(1);
  const name = 'dlock-etcd';
  const server = new EtcdContainer(
    { name, clientPort: clientPort ?? 0, token: clusterToken(), peerHost: 'localhost', initialCluster: `${name}=http://localhost:2380`, args: options.args ?? [] },
    false,
  );
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return server;
}

/** A `size`-member etcd cluster of containers on a private network; clients use 127.0.0.1 ports. */
export async function startEtcdClusterContainers(size: number, options: EtcdOptions): Promise<EtcdCluster> {
  const network = await new Network().start();
  const ports = await reservePorts(size);
  const token = clusterToken();
  const names = ports.map((_, i) => `dlock-etcd-${i}`);
  const initialCluster = names.map((name) => `${name}=http://${name}:2380`).join(',');
  const members = ports.map((clientPort, i) => {
    const member = new EtcdContainer({ name: names[i] ?? `dlock-etcd-${i}`, clientPort, token, peerHost: names[i] ?? '', initialCluster, network, args: options.args ?? [] }, true);
    untrack(member); // the cluster is tracked as a whole
    return member;
  });
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((member) => member.endpoint),
    leader: () => findLeader(members),
    async stop() {
      try {
        await stopMembers(members);
      } finally {
        untrack(cluster);
        await network.stop().catch(() => undefined);
      }
    },
  };
  track(cluster);
  try {
    // Together: no member reports ready before a quorum is up.
    await Promise.all(members.map((member) => member.start()));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
