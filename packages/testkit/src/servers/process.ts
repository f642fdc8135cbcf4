import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

/**
 * Keeps the first few and the last `capacity` lines written to it, for error messages: fatal
 * errors are usually last, but a rejected flag is printed first, followed by pages of usage.
 */
export class RingBuffer {
  private readonly first: string[] = [];
  private readonly lines: string[] = [];
  private partial = '';
  private total = 0;

  constructor(
    private readonly capacity = 60,
    private readonly headCapacity = 5,
  ) {}

  /** Appends a chunk of output; an incomplete last line is held until the rest arrives. */
  write(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.push(line.replace(/\r$/, ''));
  }

  /** The last `count` lines (and any unterminated last line), oldest first. */
  tail(count = this.capacity): string[] {
    const all = this.partial === '' ? this.lines : [...this.lines, this.partial];
    return all.slice(-count);
  }

  /** The first lines and the last `count`, with a marker where lines were left out. */
  summary(count = 20): string[] {
    const tail = this.tail(count);
    const seen = this.total + (this.partial === '' ? 0 : 1);
    if (seen <= tail.length) return tail;
    const head = this.first.slice(0, Math.min(this.headCapacity, seen - tail.length));
    const skipped = seen - head.length - tail.length;
    return skipped > 0 ? [...head, `... (${skipped} lines left out)`, ...tail] : [...head, ...tail];
  }

  private push(line: string): void {
    this.total++;
    if (this.first.length < this.headCapacity) this.first.push(line);
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.shift();
  }
}

/** How a child ended: the exit code or the signal that killed it. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Every child started and not yet reaped. The exit hook walks this set synchronously.
const liveChildren = new Set<ServerChild>();
const exitCallbacks = new Set<() => void>();
let hooksInstalled = false;

/** A spawned server binary: its output ring buffer, exit promise and signal helpers. */
export class ServerChild {
  readonly pid: number;
  readonly output = new RingBuffer();
  /** Resolves when the process has exited and been reaped. */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess, pid: number, exited: Promise<ExitInfo>) {
    this.child = child;
    this.pid = pid;
    this.exited = exited;
    void exited.then((info) => {
      this.exitInfo = info;
    });
  }

  /**
   * Spawns `command` with stdout/stderr kept in a ring buffer. Neither the child nor its pipes
   * keep the event loop alive (vitest would wait for them); waits done through this class hold
   * a timer instead, so an `await` on them is never cut short.
   */
  static async spawn(command: string, args: readonly string[], label: string): Promise<ServerChild> {
    installExitHooks();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const spawned = new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', (error) => reject(new Error(`${label}: could not spawn ${command}: ${error.message}`, { cause: error })));
    });
    // 'close' rather than 'exit': it comes once stdout/stderr are drained too, so an error
    // message built after it has the server's last words.
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const pid = await spawned;
    // Errors after spawn (a failed kill) must not become uncaught 'error' events.
    child.on('error', () => {});
    const server = new ServerChild(child, pid, exited);
    liveChildren.add(server);
    // On 'exit' (reaped), not 'close': the exit hook must never signal a pid that may be reused.
    child.once('exit', () => liveChildren.delete(server));
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => server.output.write(chunk));
      (stream as Socket).unref();
    }
    child.unref();
    return server;
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** The exit code/signal, once the process has exited. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Sends `signal`; false if the process was already gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.hasExited) return false;
    try {
      return this.child.kill(signal);
    } catch {
      return false;
    }
  }

  /** Waits up to `timeoutMs` for the process to exit; true if it did. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (this.hasExited) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  /** SIGKILL and wait until the process is reaped. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    if (!(await this.waitExit(10_000))) throw new Error(`pid ${this.pid} did not exit 10 s after SIGKILL`);
  }

  /** SIGTERM, and SIGKILL if it has not exited after `graceMs`. */
  async terminate(graceMs = 3_000): Promise<void> {
    this.signal('SIGTERM');
    // A stopped process keeps SIGTERM pending until it is continued.
    this.signal('SIGCONT');
    if (await this.waitExit(graceMs)) return;
    await this.kill();
  }

  /** The first and last output lines, indented, for an error message. */
  describeOutput(lines = 20): string {
    const summary = this.output.summary(lines);
    return summary.length === 0 ? '  (no output)' : summary.map((line) => `  ${line}`).join('\n');
  }
}

/** A command line as it could be pasted into a shell (empty and spaced arguments quoted). */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Pids of children this process spawned that have not exited yet. */
export function liveChildPids(): number[] {
  return [...liveChildren].map((child) => child.pid);
}

/**
 * Runs `callback` synchronously when the process exits, after every live child got SIGKILL
 * (used to remove data directories). Returns a function that unregisters it.
 */
export function onExitSync(callback: () => void): () => void {
  installExitHooks();
  exitCallbacks.add(callback);
  return () => exitCallbacks.delete(callback);
}

function killAllSync(): void {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const callback of exitCallbacks) {
    try {
      callback();
    } catch {
      // best effort while exiting
    }
  }
  exitCallbacks.clear();
}

const fatalSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onFatalSignal(signal: NodeJS.Signals): void {
  killAllSync();
  // Our listener replaced the default "terminate" action. When nobody else handles the signal
  // (vitest stops its fork workers with SIGTERM, without an 'exit' event), restore the default
  // and re-raise it so the process still dies the way the sender meant.
  process.off(signal, onFatalSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  for (const signal of fatalSignals) process.on(signal, onFatalSignal);
}

/**
 * The scheduler state letter of a pid from /proc (`T` = stopped), or undefined where /proc is
 * not available (non-Linux) or the process is gone.
 */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may contain spaces: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with `pid` exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
