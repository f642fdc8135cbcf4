// What every scenario is made of: sizes, the plan of a row, the context a scenario drives, and
// the small helpers the scenarios share.
import type { BackendSpec, Deployment } from './backends.js';
import type { WorkerPool } from './pool.js';
import type { TcpProxy } from './proxy.js';
import { admits } from './claims.js';
import type { GuardedResource } from './resource.js';
import type { Acquisition, Finding, Primitive, PrimitiveWorkload, ScenarioId, VerdictPolicy } from './types.js';

/** How big a run is: the CI-sized one in the test suite, or the full matrix of `pnpm safety`. */
export interface Sizing {
  name: 'ci' | 'full';
  processes: number;
  workersPerProcess: number;
  /** Length of the plain contention run, and its acquisition bound. */
  contentionMs: number;
  maxAcquisitions: number;
  /** How many times a fault scenario injects its fault. */
  faults: number;
  /** Normal running between faults, in ms. */
  settleMs: number;
}

/** The two sizes. CI: a few seconds per row on a 2-core machine. */
export const sizings: Readonly<Record<Sizing['name'], Sizing>> = Object.freeze({
  ci: { name: 'ci', processes: 4, workersPerProcess: 3, contentionMs: 3_000, maxAcquisitions: 4_000, faults: 1, settleMs: 1_000 },
  full: { name: 'full', processes: 6, workersPerProcess: 4, contentionMs: 30_000, maxAcquisitions: 100_000, faults: 3, settleMs: 2_500 },
});

/** The workload of one row. */
export interface ScenarioPlan {
  topology: 'single' | 'cluster';
  /** Workers reach the servers through a {@link TcpProxy} each. */
  proxy: boolean;
  keys: number;
  ttl: number;
  holdMs: [number, number];
  writes: number;
  waitTimeout: number;
  /** The run shuts down cleanly, with no fault pending: no lock key may be left at all. */
  cleanShutdown: boolean;
  /** Lock options on top of the backend's. */
  lockOptions?: Record<string, unknown>;
  /** Holders that stop renewing and hold on for about 2 TTL (one in each of the first `lapses` processes). */
  lapses?: number;
}

/** What a scenario can reach while it drives a row. */
export interface ScenarioContext {
  backend: BackendSpec;
  deployment: Deployment;
  pool: WorkerPool;
  proxies: TcpProxy[];
  resource: GuardedResource;
  plan: ScenarioPlan;
  sizing: Sizing;
}

/** One row of the safety matrix: a fault (or none) injected while the workers contend. */
export interface Scenario {
  id: ScenarioId;
  title: string;
  /** Why the scenario does not apply to `backend`; undefined when it does. */
  notFor(backend: BackendSpec): string | undefined;
  plan(backend: BackendSpec, sizing: Sizing): ScenarioPlan;
  /** What the backend documents it cannot do here. */
  policy(backend: BackendSpec): Omit<VerdictPolicy, 'fencing'>;
  /**
   * Runs the workload and injects the faults. Resolves once the run is over (the pool is still
   * up), with a function that checks the scenario's own claims on the final history.
   */
  drive(context: ScenarioContext): Promise<() => Finding[]>;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until true or `timeoutMs`; whether it became true. */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** `1234 ms`, for findings. */
export const ms = (value: number): string => `${Math.round(value)} ms`;
/** A finding that fails the row. */
export const failure = (message: string): Finding => ({ severity: 'failure', message });
/** A finding that is reported only. */
export const info = (message: string): Finding => ({ severity: 'info', message });

/** A TTL the backend can honour, at least `wanted`. */
export const ttlFor = (backend: BackendSpec, wanted: number): number => Math.max(wanted, backend.minTtlMs);

/** The default workload (2 keys, short holds, TTL 1 s or the backend's minimum) with `overrides`. */
export function basePlan(backend: BackendSpec, overrides: Partial<ScenarioPlan>): ScenarioPlan {
  return {
    topology: 'single',
    proxy: false,
    keys: 2,
    ttl: ttlFor(backend, 1_000),
    holdMs: [0, 5],
    writes: 2,
    waitTimeout: 30_000,
    cleanShutdown: false,
    ...overrides,
  };
}

/**
 * What the workers of a primitive ask for: 70 % read locks; a semaphore of 3 permits taken 1 or 2
 * at a time (so a key has one to three holders).
 */
export function workloadFor(primitive: Primitive): PrimitiveWorkload {
  if (primitive === 'rw') return { reads: 0.7 };
  if (primitive === 'semaphore') return { limit: 3, maxPermits: 2 };
  return {};
}

/**
 * The first acquisition of `x`'s key granted after `after` (and before `before`; from another
 * process with `otherProc`) that could not have been granted beside `x` and the holders
 * confirmed valid at its grant: the one that took `x`'s share of the key. For a mutex or a
 * leadership that is simply the next grant of the key; for a reader, the next writer; for
 * permits, the next grant that needed them.
 */
export function takeoverOf(
  acquisitions: readonly Acquisition[],
  x: Acquisition,
  after: number,
  options: { before?: number; otherProc?: boolean } = {},
): Acquisition | undefined {
  const ofKey = acquisitions.filter((a) => a.key === x.key && a !== x).sort((a, b) => a.grantedAt - b.grantedAt);
  for (const a of ofKey) {
    if (a.grantedAt <= after || (options.otherProc === true && a.proc === x.proc)) continue;
    if (options.before !== undefined && a.grantedAt >= options.before) return undefined;
    const holding = ofKey.filter((h) => h !== a && h.grantedAt < a.grantedAt && (h.validThrough ?? -Infinity) > a.grantedAt);
    if (!admits([x, ...holding], a)) return a;
  }
  return undefined;
}

/** The first acquisition of `key` granted after `at`, from any process. */
export function firstGrantAfter(acquisitions: readonly Acquisition[], at: number, key?: string): Acquisition | undefined {
  let first: Acquisition | undefined;
  for (const a of acquisitions) {
    if (a.grantedAt <= at || (key !== undefined && a.key !== key)) continue;
    if (first === undefined || a.grantedAt < first.grantedAt) first = a;
  }
  return first;
}

/** Checks that locking resumed after a fault: a grant within `withinMs` of `at`. */
export function resumed(pool: WorkerPool, at: number, withinMs: number, what: string): Finding {
  const next = firstGrantAfter(pool.acquisitions, at);
  if (next === undefined || next.grantedAt - at > withinMs) {
    return failure(`locking did not resume within ${ms(withinMs)} after ${what}`);
  }
  return info(`locking resumed ${ms(next.grantedAt - at)} after ${what}`);
}
