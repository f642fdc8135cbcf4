// Test helper: pods of the example as child processes (LOG=json), their events as they come.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@dlock/testkit';

const podScript = fileURLToPath(new URL('../src/pod.mjs', import.meta.url));

/** One line a pod printed (see `log` in src/pod.mjs); `t` is the pod's Date.now(). */
export interface PodEvent {
  t: number;
  pod: string;
  event: string;
  [field: string]: unknown;
}

export class Pod {
  readonly events: PodEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  readonly #child: ChildProcess;
  #exited = false;

  constructor(
    readonly name: string,
    env: Record<string, string>,
  ) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, POD_NAME: name, LOG: 'json' };
    this.#child = spawn(process.execPath, [podScript], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = once(this.#child, 'exit').then(([code, signal]) => {
      this.#exited = true;
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
    let pending = '';
    this.#child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line.trim() !== '') this.events.push(parse(name, line));
    });
    this.#child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  get running(): boolean {
    return !this.#exited;
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** The first event of this pod matching `match` (from index `from`), waiting up to `timeoutMs`. */
  async next(match: (e: PodEvent) => boolean, timeoutMs: number, from = 0): Promise<PodEvent> {
    let found: PodEvent | undefined;
    await waitFor(() => (found = this.events.slice(from).find(match)) !== undefined, timeoutMs).catch((error: unknown) => {
      throw new Error(`${this.name}: no matching event within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr}`, { cause: error });
    });
    return found!;
  }

  /** Stops the pod whatever its state (a stopped one is continued first); resolves once it exited. */
  async kill(): Promise<void> {
    if (!this.#exited) {
      this.#child.kill('SIGCONT');
      this.#child.kill('SIGKILL');
    }
    await this.exited;
  }
}

/** A line that is not JSON becomes an `unparsed` event (the tests assert there are none). */
function parse(pod: string, line: string): PodEvent {
  try {
    return JSON.parse(line) as PodEvent;
  } catch {
    return { t: Date.now(), pod, event: 'unparsed', line };
  }
}

/** Every event of `pods`, in time order. */
export function allEvents(pods: readonly Pod[]): PodEvent[] {
  return pods.flatMap((p) => p.events).sort((a, b) => a.t - b.t);
}

/** Waits until some pod has an event matching `match`; returns it. */
export async function anyEvent(pods: readonly Pod[], match: (e: PodEvent) => boolean, timeoutMs: number): Promise<PodEvent> {
  let found: PodEvent | undefined;
  await waitFor(() => (found = allEvents(pods).find(match)) !== undefined, timeoutMs).catch((error: unknown) => {
    throw new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(allEvents(pods))}`, { cause: error });
  });
  return found!;
}
