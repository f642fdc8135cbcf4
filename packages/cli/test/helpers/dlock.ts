// Runs the built `dlock` binary (bin/dlock.mjs over dist/) as a child process, as users run it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = fileURLToPath(new URL('../..', import.meta.url));
export const bin = join(packageDir, 'bin', 'dlock.mjs');
export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** Newest modification time under `dir` (files only). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * Builds the CLI when dist/ is missing or older than src/ (test files may run at once: the first
 * builds under a lock directory, the others wait for it). The backends' dist/ must exist
 * (`pnpm build`), since the binary loads the packages as users get them.
 */
export async function ensureBuilt(): Promise<void> {
  for (const dep of ['core', 'redis', 'etcd', 'redlock']) {
    if (!existsSync(join(packageDir, '..', dep, 'dist', 'index.js'))) {
      throw new Error(`packages/${dep}/dist is missing: run \`pnpm build\` before the CLI tests`);
    }
  }
  const built = join(packageDir, 'dist', 'index.js');
  const fresh = (): boolean => existsSync(built) && statSync(built).mtimeMs >= newest(join(packageDir, 'src'));
  if (fresh()) return;
  const lockDir = join(packageDir, 'dist.building');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lockDir} stayed for 2 minutes: remove it if no build runs`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if (fresh()) return;
    const result = spawnSync('pnpm', ['run', 'build'], { cwd: packageDir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`building @dlock/cli failed:\n${result.stdout}${result.stderr}`);
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** A running `dlock`, with its output so far. */
export interface Running {
  readonly child: ChildProcess;
  readonly startedAt: number;
  stdout: string;
  stderr: string;
  /** Resolves when it exited: its code, its output, and how long it ran (ms). */
  readonly done: Promise<Finished>;
  /** Resolves when stdout (or stderr) matches `pattern` (rejects if dlock exits first or after `ms`). */
  waitFor(pattern: RegExp, ms?: number, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray>;
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Starts `dlock ...args` with `env` added to a clean environment (no DLOCK_* from outside). */
export function start(args: readonly string[], env: Record<string, string> = {}): Running {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DLOCK_')));
  const child = spawn(process.execPath, [bin, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const startedAt = performance.now();
  const running: Running = {
    child,
    startedAt,
    stdout: '',
    stderr: '',
    done: new Promise<Finished>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) =>
        resolve({ code, signal, stdout: running.stdout, stderr: running.stderr, ms: performance.now() - startedAt }),
      );
    }),
    waitFor(pattern, ms = 20_000, stream = 'stdout') {
      const source = stream === 'stdout' ? child.stdout : child.stderr;
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = running[stream].match(pattern);
          if (match === null) return false;
          cleanup();
          resolve(match);
          return true;
        };
        const onExit = (): void => {
          if (check()) return;
          cleanup();
          reject(new Error(`dlock exited before printing ${pattern} on ${stream}:\nstdout: ${running.stdout}\nstderr: ${running.stderr}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${ms} ms:\nstdout: ${running.stdout}\nstderr: ${running.stderr}`));
        }, ms);
        const cleanup = (): void => {
          clearTimeout(timer);
          source.off('data', check);
          child.off('close', onExit);
        };
        source.on('data', check);
        child.once('close', onExit);
        check();
      });
    },
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (running.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (running.stderr += chunk));
  // The listeners above are registered first, so waitFor's check sees the updated text.
  return running;
}

/** Runs `dlock ...args` to the end. */
export function dlock(args: readonly string[], env: Record<string, string> = {}): Promise<Finished> {
  return start(args, env).done;
}

/** The command `node <fixture> ...args`, for after `--`. */
export function node(fixtureName: string, ...args: string[]): string[] {
  return [process.execPath, fixture(fixtureName), ...args];
}
