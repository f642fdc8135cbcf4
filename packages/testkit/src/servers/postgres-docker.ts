// The Docker mode of startPostgres: a postgres container through testcontainers, published on
// a 127.0.0.1 port only. It cannot run on a machine without an engine, so it stays small.
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { probePostgres } from './postgres-probe.js';
import type { PostgresOptions, PostgresServer } from './postgres-types.js';
import { releasePorts, reservePorts } from './ports.js';
import { track, untrack } from './registry.js';
import type { RestartOptions } from './types.js';

const POSTGRES_IMAGE = 'postgres:16-alpine';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class PostgresContainer implements PostgresServer {
  readonly host = '127.0.0.1' as const;
  readonly pid = undefined;
  readonly dataDir = undefined;
  readonly user = 'postgres';
  readonly database = 'postgres';
  #container: StartedTestContainer | undefined;
  #stopped: Promise<void> | undefined;

  constructor(
    readonly port: number,
    private readonly args: readonly string[],
  ) {
    track(this);
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    const container = new GenericContainer(POSTGRES_IMAGE)
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts({ container: 5432, host: this.port })
      .withCommand(['postgres', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200', ...this.args])
      .withStartupTimeout(120_000);
    // testcontainers publishes on every interface; the harness promises loopback only.
    const hostConfig = (container as unknown as { hostConfig: { PortBindings?: Record<string, unknown> } }).hostConfig;
    hostConfig.PortBindings = { ...hostConfig.PortBindings, '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: String(this.port) }] };
    this.#container = await container.start();
    await this.#waitReady();
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      try {
        if (this.#container !== undefined) {
          await this.#docker().then((c) => c.unpause()).catch(() => undefined);
          await this.#container.stop({ remove: true, timeout: 3_000 });
        }
      } finally {
        releasePorts([this.port]);
        untrack(this);
      }
    })();
    return this.#stopped;
  }

  async kill(): Promise<void> {
    await (await this.#docker()).kill({ signal: 'SIGKILL' });
  }

  async pause(): Promise<void> {
    await (await this.#docker()).pause();
  }

  async resume(): Promise<void> {
    await (await this.#docker()).unpause();
  }

  async restart(options: RestartOptions = {}): Promise<void> {
    const container = this.#container;
    if (container === undefined || this.#stopped !== undefined) throw new Error('postgres container is not running');
    await this.#docker().then((c) => c.unpause()).catch(() => undefined);
    if (options.empty === true) {
      // The data lives in the container: a new container is an empty server on the same port.
      await container.stop({ remove: true, timeout: 3_000 });
      await this.start();
    } else {
      await container.restart({ timeout: 3_000 });
      await this.#waitReady();
    }
  }

  async #docker() {
    const container = this.#container;
    if (container === undefined || this.#stopped !== undefined) throw new Error('postgres container is not running');
    return (await getContainerRuntimeClient()).container.getById(container.getId());
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + 60_000;
    // The image runs a temporary server for its init scripts first: wait for the real one.
    while (!(await probePostgres(this.port))) {
      if (Date.now() > deadline) throw new Error(`postgres container on 127.0.0.1:${this.port} not ready after 60 s`);
      await sleep(100);
    }
  }
}

/** A postgres container published on a free 127.0.0.1 port (trust authentication). */
export async function startPostgresContainer(options: PostgresOptions): Promise<PostgresServer> {
  const [port] = await reservePorts(1);
  const server = new PostgresContainer(port ?? 0, options.args ?? []);
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return server;
}
