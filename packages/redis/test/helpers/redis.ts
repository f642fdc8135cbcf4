import { Redis, type Cluster } from 'ioredis';

/** A plain ioredis client for test set-up and server-side checks (never the code under test). */
export function adminClient(port: number, options: { password?: string } = {}): Redis {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, ...options });
  client.on('error', () => undefined);
  return client;
}

/** `INFO commandstats` as `{ evalsha: calls, eval: calls, ... }`. */
export async function commandCalls(admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}

/** `addr` of the connection `client` uses, as MONITOR reports it (`127.0.0.1:54321`). */
export async function clientAddress(client: Redis): Promise<string> {
  const info = (await client.call('CLIENT', 'INFO')) as string;
  const addr = /\baddr=(\S+)/.exec(info)?.[1];
  if (addr === undefined) throw new Error(`no addr in CLIENT INFO: ${info}`);
  return addr;
}

/** One command seen by MONITOR. */
export interface MonitoredCommand {
  /** Server time, seconds with microseconds. */
  time: number;
  args: string[];
  source: string;
}

/** Records every command the server executes until `stop()`. */
export async function monitor(port: number): Promise<{ commands: MonitoredCommand[]; stop(): Promise<void> }> {
  const client = adminClient(port);
  const commands: MonitoredCommand[] = [];
  const m = await client.monitor();
  m.on('monitor', (time: string, args: string[], source: string) => commands.push({ time: Number(time), args, source }));
  return {
    commands,
    async stop() {
      m.disconnect();
      client.disconnect();
    },
  };
}

/** Collects unhandled rejections while installed; `stop()` removes the listener. */
export function trackUnhandledRejections(): { reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown) => reasons.push(reason);
  process.on('unhandledRejection', listener);
  return { reasons, stop: () => process.off('unhandledRejection', listener) };
}

/** Milliseconds `promise` takes to settle, and how. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/**
 * Records the size of every pipeline `client` executes from now on (round trips as the client
 * sees them). Works for a `Redis` and a `Cluster` alike.
 */
export function recordPipelines(client: Redis | Cluster): number[] {
  const sizes: number[] = [];
  const pipeline = client.pipeline.bind(client);
  client.pipeline = ((...args: Parameters<typeof pipeline>) => {
    const p = pipeline(...args);
    const exec = p.exec.bind(p);
    p.exec = ((...execArgs: Parameters<typeof exec>) => {
      sizes.push(p.length);
      return exec(...execArgs);
    }) as typeof p.exec;
    return p;
  }) as typeof client.pipeline;
  return sizes;
}
