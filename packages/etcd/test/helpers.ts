import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';

/** A unique key prefix per test file run: tests never depend on an empty server. */
export function testPrefix(): string {
  return `dlock-test/${randomUUID()}/`;
}

/** `etcdctl lock <name>` running in the background; `key` resolves once it printed its key (it holds the lock). */
export interface EtcdctlLock {
  readonly child: ChildProcess;
  /** Resolves to the key etcdctl holds (`<name>/<lease hex>`), once acquired. */
  readonly acquired: Promise<string>;
  /** Whether it has printed its key yet. */
  readonly holding: boolean;
  /** Resolves to the exit code once etcdctl exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM: etcdctl unlocks (deletes its key) and exits. Resolves once it exited. */
  stop(): Promise<void>;
}

/** Spawns `etcdctl --endpoints <endpoint> lock <name> [command...]`. */
export function etcdctlLock(endpoint: string, name: string, command: string[] = []): EtcdctlLock {
  // `--` ends etcdctl's flags, so the command may have its own (`sh -c ...`).
  const child = spawn('etcdctl', ['--endpoints', endpoint, 'lock', name, ...(command.length > 0 ? ['--', ...command] : [])], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let holding = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const acquired = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      const line = output.split('\n').find((l) => l.startsWith(`${name}/`));
      if (line !== undefined && !holding) {
        holding = true;
        resolve(line.trim());
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code, signal) => {
      if (!holding) reject(new Error(`etcdctl lock ${name} exited (${code ?? signal}) before acquiring: ${output}`));
    });
  });
  acquired.catch(() => undefined);
  return {
    child,
    acquired,
    exited,
    get holding() {
      return holding;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs etcdctl to completion; throws with its output on a non-zero exit. */
export function etcdctl(endpoint: string, ...args: string[]): string {
  const result = spawnSync('etcdctl', ['--endpoints', endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/**
 * Client messages etcd received, by gRPC method, from its `/metrics` endpoint
 * (`grpc_server_msg_received_total`): unary requests and stream messages alike.
 */
export async function receivedMessages(endpoint: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^grpc_server_msg_received_total\{grpc_method="([^"]+)"[^}]*\} (\S+)$/.exec(line);
    if (m !== null) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return counts;
}

/** Per-method difference `after - before`, zero rows left out. */
export function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [method, n] of after) {
    const d = n - (before.get(method) ?? 0);
    if (d !== 0) out[method] = d;
  }
  return out;
}

/** Collects unhandled rejections while installed; `stop()` detaches and returns them. */
export function recordUnhandledRejections(): { stop(): unknown[] } {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  return {
    stop: () => {
      process.off('unhandledRejection', listener);
      return seen;
    },
  };
}

/** Blocks the event loop (and everything on it: timers, sockets) for `ms`. */
export function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
