import type { ChildProcess } from 'node:child_process';
import { RingBuffer } from '../servers/process.js';
import type { Outcome } from './types.js';

/** What a worker sends (see worker.mjs). */
export type WorkerMessage =
  | { t: 'ready'; pid: number }
  | { t: 'pong'; c0: number; w: number }
  | {
      t: 'req';
      id: number;
      kind: 'acq' | 'write' | 'rel';
      acq: string;
      worker: number;
      key: string;
      fence: bigint;
      token?: string;
      validUntil?: number;
      validLeft?: number;
      index?: number;
      prevValid?: boolean;
      /** On `acq`: what it holds besides the key, when the acquiring call began (worker clock), whether it lapses. */
      mode?: 'read' | 'write';
      permits?: number;
      limit?: number;
      calledAt?: number;
      lapse?: boolean;
    }
  | {
      t: 'done';
      acq: string;
      prevValid: boolean;
      outcome: Outcome;
      lost: boolean;
      early: boolean;
      releaseEarly: boolean;
      lossMessage?: string;
      error?: { name: string; message: string };
    }
  | { t: 'error'; op: string; name: string; message: string }
  | { t: 'unhandled'; kind: string; message: string }
  | { t: 'fatal'; message: string }
  | { t: 'closed'; error?: { name: string; message: string } };

/** One forked worker process: its output, exit, state, clock offset and open acquisitions. */
export class WorkerProcess {
  readonly output = new RingBuffer(40);
  readonly closed: Promise<void>;
  state: 'starting' | 'running' | 'paused' | 'killed' | 'exited' = 'starting';
  /** Bounds of (checker clock - worker clock), from the ping handshake. */
  offsetLow = -Infinity;
  offsetHigh = Infinity;
  reportedClosed = false;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly open = new Set<string>();

  constructor(
    readonly proc: number,
    readonly child: ChildProcess,
  ) {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => this.output.write(chunk));
    }
    this.closed = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        if (this.state !== 'killed') this.state = 'exited';
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  send(message: object): void {
    if (this.child.connected) this.child.send(message, (error) => void error);
  }

  describe(): string {
    const lines = this.output.summary(15);
    return `worker ${this.proc} (pid ${this.pid}, ${this.state})${lines.length > 0 ? `:\n    ${lines.join('\n    ')}` : ''}`;
  }
}
