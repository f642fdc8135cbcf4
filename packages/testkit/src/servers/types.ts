/** Options accepted by {@link ServerProcess.restart}. */
export interface RestartOptions {
  /** Wipe the server's data before starting it again, so it comes back with nothing stored. */
  empty?: boolean;
}

/** One server the harness started, locally or in a container, on a loopback port. */
export interface ServerProcess {
  /** Always the IPv4 loopback address: servers never listen anywhere else. */
  readonly host: '127.0.0.1';
  /** The client port; it stays the same across {@link restart}. */
  readonly port: number;
  /** The local process id while the server runs; `undefined` when it is down or runs in Docker. */
  readonly pid: number | undefined;
  /** The server's temp data directory (`<tmpdir>/dlock-*`), `undefined` under Docker. */
  readonly dataDir: string | undefined;
  /** Graceful shutdown (SIGTERM, then SIGKILL after a few seconds), then removes the data. Idempotent; final. */
  stop(): Promise<void>;
  /** SIGKILL, resolved once the process is gone. The data is kept so {@link restart} can reuse it. */
  kill(): Promise<void>;
  /** SIGSTOP: the port still accepts connections but nothing is answered, so commands time out. */
  pause(): Promise<void>;
  /** SIGCONT: undoes {@link pause}. */
  resume(): Promise<void>;
  /** Stops the server if it runs, then starts it on the same port(s) and waits until it is ready. */
  restart(options?: RestartOptions): Promise<void>;
}

/** A redis-server started by {@link startRedis}. */
export interface RedisServer extends ServerProcess {
  /** `redis://127.0.0.1:<port>` (with the password, when one was set). */
  readonly url: string;
}

/** One etcd member, alone ({@link startEtcd}) or part of a cluster ({@link startEtcdCluster}). */
export interface EtcdServer extends ServerProcess {
  /** `http://127.0.0.1:<port>`, what an etcd client takes as a host. */
  readonly endpoint: string;
  /** The member name (`--name`), unique within its cluster. */
  readonly name: string;
  /** The port members use to talk to each other. */
  readonly peerPort: number;
}

/** A multi-member etcd cluster started by {@link startEtcdCluster}. */
export interface EtcdCluster {
  readonly members: EtcdServer[];
  /** Every member's client endpoint, in member order. */
  readonly endpoints: string[];
  /** The member that is leader now; waits (a few seconds at most) while an election is under way. */
  leader(): Promise<EtcdServer>;
  /** Kills every member (the data is deleted, so a graceful shutdown buys nothing) and removes their data. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@link startRedis} and {@link startRedisNodes}. */
export interface RedisOptions {
  /** Extra redis-server arguments, appended after the harness's own (e.g. `['--maxmemory', '10mb']`). */
  args?: string[];
  /** Sets `requirepass`; readiness checks and {@link RedisServer.url} use it. */
  password?: string;
}

/** Options for {@link startEtcd} and {@link startEtcdCluster}. */
export interface EtcdOptions {
  /** Extra etcd arguments, appended after the harness's own (e.g. `['--auto-compaction-retention', '1']`). */
  args?: string[];
}

/** A list of servers that can be stopped together. */
export type ServerGroup<T extends ServerProcess> = T[] & { stop(): Promise<void> };
