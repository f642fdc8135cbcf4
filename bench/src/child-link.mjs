// The parent's end of a child bench process (src/child.mjs): request/response over IPC, every
// request bounded in time; stop() ends the child (SIGKILL if it does not exit).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const childPath = fileURLToPath(new URL('./child.mjs', import.meta.url));

export class ChildLink {
  #child;
  #pending = new Map();
  #nextId = 1;

  static async start() {
    const link = new ChildLink();
    await link.#spawn();
    return link;
  }

  #spawn() {
    return new Promise((resolve, reject) => {
      const child = fork(childPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.#child = child;
      const timer = setTimeout(() => reject(new Error('bench child did not start within 15 s')), 15_000);
      child.on('message', (msg) => {
        if (msg.ready) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(msg.error));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`bench child exited (${code ?? signal})`));
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`bench child exited (${code ?? signal})`));
        }
        this.#pending.clear();
      });
    });
  }

  get pid() {
    return this.#child?.pid;
  }

  /** Whether the child has exited. */
  get dead() {
    return !this.#child || this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  request(op, payload, timeoutMs) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`bench child: ${op} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#child.send({ id, op, ...payload });
    });
  }

  async stop() {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.disconnect?.();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}
