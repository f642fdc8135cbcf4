import { fork } from 'node:child_process';
import { onExitSync } from '../servers/process.js';
import type { GuardedResource } from './resource.js';
import type { Acquisition, WorkerConfig } from './types.js';
import { WorkerProcess, type WorkerMessage } from './worker-process.js';

/** A step of an acquisition, as the checker stamped it, offered to the scenario before the ack. */
export interface Step {
  proc: number;
  kind: 'acq' | 'write' | 'rel';
  /** Index of the write (0-based) for `write` steps. */
  index: number;
  acquisition: Acquisition;
  /** Checker clock. */
  at: number;
  /** The fenced resource's decision (release intents are always "accepted"). */
  accepted: boolean;
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  processes: number;
  /** The config every process gets (its `proc` index is added). */
  config: Omit<WorkerConfig, 'proc'>;
  /** Per-process changes to `config` (a negative control gives each process its own namespace). */
  configFor?: (proc: number) => Partial<Omit<WorkerConfig, 'proc'>>;
  /** Absolute path of worker.mjs. */
  workerPath: string;
  resource: GuardedResource;
  /**
   * Called with every step before the worker gets its ack; the ack waits for the returned
   * promise. A scenario pauses or kills the holder's process here, at a known point of its
   * critical section.
   */
  beforeAck?: (step: Step) => Promise<void> | void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves `promise`'s value, or `fallback` after `ms`; the timer never outlives the race. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * N worker processes hammering a backend through the public API, and the checker's side of
 * their protocol: it stamps every step on one clock (its own), lets the fenced resource decide
 * every write, and records each acquisition for the verdict.
 */
export class WorkerPool {
  readonly workers: WorkerProcess[] = [];
  readonly errors: Record<string, number> = {};
  /** The first message of each error kind, for diagnosis. */
  readonly errorSamples = new Map<string, string>();
  readonly unhandled: string[] = [];
  readonly #acquisitions = new Map<string, Acquisition>();
  readonly #lastStep = new Map<string, number>();
  readonly #ready = new Map<number, (pid: number) => void>();
  readonly #pongs = new Map<number, (pong: { c0: number; w: number; c1: number }) => void>();
  #lastStamp = 0;
  #stopping = false;
  #unhookExit: (() => void) | undefined;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Every acquisition registered so far. */
  get acquisitions(): Acquisition[] {
    return [...this.#acquisitions.values()];
  }

  /** How many acquisitions have registered. */
  get count(): number {
    return this.#acquisitions.size;
  }

  /** Scenario hook; may be replaced while running. */
  set beforeAck(hook: WorkerPoolOptions['beforeAck']) {
    this.options.beforeAck = hook;
  }

  /** The checker clock: `performance.now()`, made strictly increasing so no two steps tie. */
  now(): number {
    this.#lastStamp = Math.max(performance.now(), this.#lastStamp + 1e-6);
    return this.#lastStamp;
  }

  /** Forks every process, waits until each has built its lock, measures clock offsets, then starts them together. */
  async start(readyTimeoutMs = 30_000): Promise<void> {
    // If the checker dies, a paused worker would never see its IPC channel close: kill them all.
    this.#unhookExit = onExitSync(() => {
      for (const worker of this.workers) if (worker.exit === undefined) worker.child.kill('SIGKILL');
    });
    for (let proc = 0; proc < this.options.processes; proc++) {
      const config: WorkerConfig = { ...this.options.config, ...this.options.configFor?.(proc), proc };
      const child = fork(this.options.workerPath, [JSON.stringify(config)], {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'advanced', // fencing tokens are bigints
        execArgv: [], // not the test runner's loader flags: workers are plain Node
      });
      const worker = new WorkerProcess(proc, child);
      child.on('message', (message: WorkerMessage) => this.#onMessage(worker, message));
      child.on('error', () => undefined); // a send to a dead child; its exit is what we track
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((worker) => this.#whenReady(worker, readyTimeoutMs)));
    for (const worker of this.workers) await this.#handshake(worker);
    for (const worker of this.workers) {
      worker.state = 'running';
      worker.send({ t: 'start' });
    }
  }

  /** Runs until `ms` passed or `maxAcquisitions` registered (or `until` says so). */
  async runFor(ms: number, maxAcquisitions = Infinity, until?: () => boolean): Promise<void> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline && this.count < maxAcquisitions && until?.() !== true) {
      await sleep(Math.min(50, Math.max(1, deadline - performance.now())));
    }
  }

  /** SIGSTOP: the process and its locks' timers freeze; holders it had are marked `paused`. */
  pause(proc: number): void {
    const worker = this.#worker(proc);
    if (worker.state !== 'running') return;
    process.kill(worker.pid, 'SIGSTOP');
    worker.state = 'paused';
    for (const id of worker.open) this.#acquisitions.get(id)?.faults.push('paused');
  }

  /** SIGCONT. */
  resume(proc: number): void {
    const worker = this.#worker(proc);
    if (worker.state !== 'paused') return;
    process.kill(worker.pid, 'SIGCONT');
    worker.state = 'running';
  }

  /** SIGKILL, waiting until the process is gone; its open acquisitions end as `killed`. */
  async kill(proc: number): Promise<void> {
    const worker = this.#worker(proc);
    if (worker.state === 'killed' || worker.state === 'exited') return;
    worker.state = 'killed';
    worker.child.kill('SIGKILL');
    for (const id of worker.open) {
      const acquisition = this.#acquisitions.get(id);
      if (acquisition === undefined) continue;
      acquisition.outcome = 'killed';
      acquisition.faults.push('killed');
    }
    worker.open.clear();
    await worker.closed;
  }

  /** The process a running acquisition belongs to. */
  pidOf(proc: number): number {
    return this.#worker(proc).pid;
  }

  /**
   * Tells every process to stop, waits up to `graceMs` for each to close its lock and exit on
   * its own, and SIGKILLs the rest. Returns one line per process that had to be killed: it
   * kept the event loop alive after `close()` (a leaked connection or timer) or hung.
   */
  async stop(graceMs: number): Promise<string[]> {
    this.#stopping = true;
    const leaked: string[] = [];
    for (const worker of this.workers) {
      if (worker.state === 'paused') this.resume(worker.proc);
      worker.send({ t: 'stop' });
    }
    await Promise.all(
      this.workers.map(async (worker) => {
        if (worker.state === 'killed' || worker.state === 'exited') return worker.closed;
        const exited = await within(worker.closed.then(() => true), graceMs, false);
        if (exited) return;
        leaked.push(`${worker.describe()}\n    did not exit ${graceMs} ms after stop (${worker.reportedClosed ? 'after close(): open handles' : 'close() never finished'})`);
        worker.state = 'killed';
        worker.child.kill('SIGKILL');
        await worker.closed;
      }),
    );
    this.#unhookExit?.();
    for (const worker of this.workers) {
      const unexpected = worker.exit !== undefined && worker.state === 'exited' && (worker.exit.code !== 0 || !worker.reportedClosed);
      if (unexpected) this.unhandled.push(`worker ${worker.proc} exited with code ${worker.exit?.code} signal ${worker.exit?.signal}: ${worker.describe()}`);
    }
    return leaked;
  }

  /** Output of every worker, for a failure message. */
  describe(): string {
    return this.workers.map((worker) => worker.describe()).join('\n');
  }

  #worker(proc: number): WorkerProcess {
    const worker = this.workers[proc];
    if (worker === undefined) throw new RangeError(`no worker process ${proc}`);
    return worker;
  }

  async #whenReady(worker: WorkerProcess, timeoutMs: number): Promise<void> {
    const ready = new Promise<number>((resolve) => this.#ready.set(worker.proc, resolve));
    const outcome = await within(Promise.race([ready.then(() => 'ready' as const), worker.closed.then(() => 'exited' as const)]), timeoutMs, 'timeout' as const);
    if (outcome !== 'ready') {
      throw new Error(`safety worker ${worker.proc} did not become ready (${outcome}):\n${worker.describe()}`);
    }
  }

  /** Ping-pong a few times: the worker's clock reading lies between our send and receive. */
  async #handshake(worker: WorkerProcess): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const pong = await new Promise<{ c0: number; w: number; c1: number }>((resolve) => {
        this.#pongs.set(worker.proc, resolve);
        worker.send({ t: 'ping', c0: performance.now() });
      });
      worker.offsetLow = Math.max(worker.offsetLow, pong.c0 - pong.w);
      worker.offsetHigh = Math.min(worker.offsetHigh, pong.c1 - pong.w);
    }
  }

  #onMessage(worker: WorkerProcess, message: WorkerMessage): void {
    switch (message.t) {
      case 'ready':
        this.#ready.get(worker.proc)?.(message.pid);
        return;
      case 'pong':
        this.#pongs.get(worker.proc)?.({ c0: message.c0, w: message.w, c1: performance.now() });
        return;
      case 'req':
        void this.#onStep(worker, message);
        return;
      case 'done':
        this.#onDone(worker, message);
        return;
      case 'error':
        this.#count(`${message.op}:${message.name}`, message.message);
        return;
      case 'unhandled':
        this.unhandled.push(`worker ${worker.proc}: ${message.kind}: ${message.message}`);
        return;
      case 'fatal':
        this.unhandled.push(`worker ${worker.proc} failed: ${message.message}`);
        return;
      case 'closed':
        worker.reportedClosed = true;
        if (message.error !== undefined) this.#count(`close:${message.error.name}`, message.error.message);
        return;
    }
  }

  #count(kind: string, message: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    if (!this.errorSamples.has(kind)) this.errorSamples.set(kind, message);
  }

  async #onStep(worker: WorkerProcess, message: Extract<WorkerMessage, { t: 'req' }>): Promise<void> {
    const at = this.now(); // first thing: the stamp must precede everything the worker does next
    const resource = this.options.resource;
    let acquisition = this.#acquisitions.get(message.acq);
    let accepted = true;
    if (message.kind === 'acq') {
      const low = worker.offsetLow;
      acquisition = {
        id: message.acq,
        proc: worker.proc,
        worker: message.worker,
        key: message.key,
        token: message.token ?? '',
        fence: message.fence,
        grantedAt: at,
        validThrough: undefined,
        releaseIntentAt: undefined,
        outcome: 'unfinished',
        lossReported: false,
        earlyLoss: false,
        releaseNotHeldEarly: false,
        validUntilAtLeast: message.validUntil !== undefined && Number.isFinite(low) ? message.validUntil + low : undefined,
        validLeftAtGrant: message.validLeft ?? Number.NaN,
        ...(message.mode === undefined ? {} : { mode: message.mode }),
        ...(message.permits === undefined ? {} : { permits: message.permits, limit: message.limit }),
        calledAtLeast: message.calledAt !== undefined && Number.isFinite(low) ? message.calledAt + low : undefined,
        faults: message.lapse === true ? ['lapsed'] : [],
      };
      this.#acquisitions.set(message.acq, acquisition);
      worker.open.add(message.acq);
      accepted = resource.admit(acquisition, at);
    } else if (acquisition !== undefined) {
      this.#confirm(acquisition, message.prevValid === true);
      if (message.kind === 'write') accepted = resource.accept(acquisition, at);
      else {
        acquisition.releaseIntentAt = at;
        resource.leave(acquisition, at);
      }
    }
    if (acquisition === undefined) return; // a step of an acquisition we never saw: cannot happen in order
    this.#lastStep.set(message.acq, at);
    const hook = this.options.beforeAck;
    if (hook !== undefined && !this.#stopping) {
      await hook({ proc: worker.proc, kind: message.kind, index: message.index ?? -1, acquisition, at, accepted });
    }
    worker.send({ t: 'ack', id: message.id, accepted });
  }

  /** The worker checked validity after the ack of its last step: that step's stamp was inside it. */
  #confirm(acquisition: Acquisition, stillValid: boolean): void {
    if (!stillValid) return;
    const last = this.#lastStep.get(acquisition.id);
    if (last !== undefined) acquisition.validThrough = last;
  }

  #onDone(worker: WorkerProcess, message: Extract<WorkerMessage, { t: 'done' }>): void {
    const acquisition = this.#acquisitions.get(message.acq);
    worker.open.delete(message.acq);
    if (acquisition === undefined) return;
    this.#confirm(acquisition, message.prevValid);
    acquisition.outcome = message.outcome;
    acquisition.lossReported = message.lost;
    acquisition.earlyLoss = message.early;
    acquisition.releaseNotHeldEarly = message.releaseEarly;
    acquisition.lossMessage = message.lossMessage;
    if (message.error !== undefined) this.#count(`release:${message.error.name}`, message.error.message);
  }
}
