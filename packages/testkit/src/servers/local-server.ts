import { removeDataDir, wipeDataDir } from './data-dir.js';
import { releasePorts, reservePorts, waitPortsFree } from './ports.js';
import { formatCommand, procState, ServerChild } from './process.js';
import { track, untrack } from './registry.js';
import type { RestartOptions } from './types.js';

/** A server did not become ready: it exited early or never answered its readiness probe. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
  constructor(
    message: string,
    /** The server reported that a port was taken: starting again on other ports may work. */
    readonly addressInUse: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What a {@link LocalServer} needs to know about the program it runs. */
export interface LocalServerSpec {
  /** Short name for messages: `redis`, `etcd dlock-etcd-0`. */
  readonly kind: string;
  readonly binary: string;
  readonly dataDir: string;
  /** Ports the server binds; the first is the client port. Re-picked only before the first successful start. */
  ports: number[];
  /** The command line for the current ports and data dir. */
  args(): string[];
  /** One bounded readiness probe against the running server. */
  probe(): Promise<boolean>;
  /** How long a start may take before it fails (default 20 s). */
  readyTimeoutMs?: number;
  /** Runs before a `restart({ empty: true })` starts the wiped server (an etcd member re-joins here). */
  beforeEmptyStart?(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const addressInUse = /address already in use/i;

/**
 * The lifecycle of one locally spawned server on fixed loopback ports: start with readiness
 * polling, SIGTERM/SIGKILL/SIGSTOP/SIGCONT, restart on the same ports, cleanup. Lifecycle calls
 * run one after another, so a stop() issued during a restart() waits for it.
 */
export class LocalServer {
  readonly host = '127.0.0.1' as const;
  private child: ServerChild | undefined;
  private stopped: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly spec: LocalServerSpec) {
    track(this);
  }

  /** The client port. */
  get port(): number {
    const port = this.spec.ports[0];
    if (port === undefined) throw new Error(`${this.spec.kind}: no port assigned`);
    return port;
  }

  /** The temp data directory (removed by stop()). */
  get dataDir(): string {
    return this.spec.dataDir;
  }

  /** Every bound port, client port first. */
  get ports(): readonly number[] {
    return this.spec.ports;
  }

  /** The pid while the process runs, else undefined. */
  get pid(): number | undefined {
    return this.child !== undefined && !this.child.hasExited ? this.child.pid : undefined;
  }

  /** A label for messages: kind and ports. */
  get label(): string {
    return `${this.spec.kind} on 127.0.0.1:${this.spec.ports.join('/')}`;
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private assertNotStopped(): void {
    if (this.stopped !== undefined) throw new Error(`${this.label} was stopped; stop() is final, start a new server`);
  }

  /** Moves to new free ports (only before the server has ever been ready: clients know the old ones). */
  async movePorts(): Promise<void> {
    const old = this.spec.ports;
    this.spec.ports = await reservePorts(old.length);
    releasePorts(old);
  }

  /** Spawns the process without waiting for readiness (cluster members must all be up to elect a leader). */
  async spawn(): Promise<void> {
    this.assertNotStopped();
    this.child = await ServerChild.spawn(this.spec.binary, this.spec.args(), this.label);
  }

  /**
   * Polls the readiness probe until it succeeds, the process exits, the timeout passes (then the
   * process is killed) or `signal` aborts (a cluster gives up when one member fails).
   */
  async waitReady(timeoutMs = this.spec.readyTimeoutMs ?? 20_000, signal?: AbortSignal): Promise<void> {
    const child = this.child;
    if (child === undefined) throw new Error(`${this.label}: waitReady() before spawn()`);
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      if (child.hasExited) {
        const exit = child.exit;
        const how = exit?.signal != null ? `signal ${exit.signal}` : `code ${exit?.code ?? '?'}`;
        const output = child.output.tail().join('\n');
        throw new ServerStartError(
          `${this.label} exited (${how}) before it was ready.\ncommand: ${formatCommand(this.spec.binary, this.spec.args())}\noutput:\n${child.describeOutput()}`,
          addressInUse.test(output),
        );
      }
      if (await this.spec.probe()) return;
      if (Date.now() - started > timeoutMs) {
        await child.kill();
        throw new ServerStartError(
          `${this.label} (pid ${child.pid}) not ready after ${timeoutMs} ms; killed it.\ncommand: ${formatCommand(this.spec.binary, this.spec.args())}\noutput:\n${child.describeOutput()}`,
          false,
        );
      }
      await sleep(50);
    }
  }

  /**
   * First start: spawn and wait until ready. When another process grabbed a port between picking
   * and binding, picks new ports (if `movable`) or waits a little (same ports) and tries again.
   */
  start(movable: boolean): Promise<void> {
    return this.enqueue(() => this.startNow(movable));
  }

  private async startNow(movable: boolean): Promise<void> {
    const attempts = 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.spawn();
        await this.waitReady();
        return;
      } catch (error) {
        if (!(error instanceof ServerStartError && error.addressInUse) || attempt >= attempts) throw error;
        if (movable) {
          await this.movePorts();
        } else {
          await waitPortsFree(this.spec.ports, 2_000);
        }
      }
    }
  }

  /** See {@link ServerProcess.stop}. */
  stop(): Promise<void> {
    this.stopped ??= this.enqueue(async () => {
      try {
        await this.child?.terminate(3_000);
      } finally {
        await removeDataDir(this.spec.dataDir);
        releasePorts(this.spec.ports);
        untrack(this);
      }
    });
    return this.stopped;
  }

  /** See {@link ServerProcess.kill}. */
  kill(): Promise<void> {
    return this.enqueue(async () => {
      await this.child?.kill();
    });
  }

  /** See {@link ServerProcess.pause}. */
  pause(): Promise<void> {
    return this.enqueue(async () => {
      const child = this.runningChild('pause');
      child.signal('SIGSTOP');
      // Signals are delivered asynchronously; callers expect the very next command to hang.
      await this.waitProcState(child.pid, (state) => state === 'T' || state === 't');
    });
  }

  /** See {@link ServerProcess.resume}. */
  resume(): Promise<void> {
    return this.enqueue(async () => {
      const child = this.runningChild('resume');
      child.signal('SIGCONT');
      await this.waitProcState(child.pid, (state) => state !== 'T' && state !== 't');
    });
  }

  /** See {@link ServerProcess.restart}. */
  restart(options: RestartOptions = {}): Promise<void> {
    return this.enqueue(async () => {
      this.assertNotStopped();
      await this.child?.terminate(3_000);
      if (options.empty === true) {
        await wipeDataDir(this.spec.dataDir);
        await this.spec.beforeEmptyStart?.();
      }
      // The old process's listening sockets are closed by the kernel as it exits; wait for that
      // rather than failing on EADDRINUSE.
      await waitPortsFree(this.spec.ports, 5_000);
      await this.startNow(false);
    });
  }

  private runningChild(action: string): ServerChild {
    this.assertNotStopped();
    const child = this.child;
    if (child === undefined || child.hasExited) throw new Error(`${this.label}: cannot ${action}, the server is not running`);
    return child;
  }

  private async waitProcState(pid: number, done: (state: string) => boolean): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const state = procState(pid);
      if (state === undefined || done(state)) return;
      await sleep(10);
    }
  }
}

/** Starts `server` and resolves it; if the start fails, stops it (freeing ports and data) and rethrows. */
export async function startOrCleanUp<T extends LocalServer>(server: T): Promise<T> {
  try {
    await server.start(true);
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return server;
}
