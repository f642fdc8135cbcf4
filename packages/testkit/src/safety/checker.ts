import { backends, locateBackend, type BackendSpec, type Deployment, type Endpoint } from './backends.js';
import { workerPath } from './locate.js';
import { WorkerPool } from './pool.js';
import { startTcpProxy, type TcpProxy } from './proxy.js';
import { FencedResource, type GuardedResource } from './resource.js';
import { ClaimResource } from './resource-claims.js';
import { scenarios, sizings, workloadFor, type Scenario, type ScenarioPlan, type Sizing } from './scenarios.js';
import type { BackendId, Finding, History, Primitive, ScenarioId, Verdict } from './types.js';
import { pidAlive } from '../servers/process.js';
import { judge } from './verdict.js';
import { checksFor } from './verdict-checks.js';

/** One row of the matrix: a backend under a scenario. */
export interface SafetyRow {
  backend: BackendId;
  /** What the row's workers acquired (absent in reports written before there were others than the mutex). */
  primitive?: Primitive;
  scenario: ScenarioId;
  title: string;
  /** `skipped`: the backend is not usable yet (see `skipReason`). */
  status: Verdict['status'] | 'skipped';
  skipReason?: string;
  verdict?: Verdict;
  plan?: ScenarioPlan;
  durationMs: number;
  /** Where the time went: deploy, start, drive, stop, keys (ms). */
  phases?: Record<string, number>;
  /** First message of each worker error kind. */
  errorSamples?: Record<string, string>;
}

/** Options of {@link runSafetyRow} and {@link runSafetyMatrix}. */
export interface RunOptions {
  sizing?: Sizing;
  /** Progress lines (row started/finished). */
  log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lock keys left after the run. Keys of holders whose release failed during a fault may stay
 * until their TTL: look again after it. A key still there is a leak; so is any key at all
 * after a clean shutdown.
 */
async function leftoverKeys(backend: BackendSpec, deployment: Deployment, prefix: string, plan: ScenarioPlan, findings: Finding[]): Promise<string[]> {
  const first = await deployment.lockKeys(prefix);
  if (first.length === 0) return [];
  if (plan.cleanShutdown) return first;
  // The places of waiters in a paused or killed process outlive their last lease as long.
  await sleep(plan.ttl + (backend.waitPlaceMs ?? 0) + 1_500);
  const second = await deployment.lockKeys(prefix);
  if (second.length < first.length) {
    findings.push({ severity: 'info', message: `${first.length - second.length} lock keys outlived the run until their TTL (a release failed during a fault, or a waiter's place outlived its process)` });
  }
  return second;
}

/**
 * Runs one backend under one scenario with real servers and worker processes, and judges it.
 * `moduleUrl` is the backend's built ESM entry (see {@link locateBackend}).
 */
export async function runSafetyRow(backend: BackendSpec, scenario: Scenario, moduleUrl: string, options: RunOptions = {}): Promise<SafetyRow> {
  const sizing = options.sizing ?? sizings.ci;
  const started = performance.now();
  const plan = scenario.plan(backend, sizing);
  const prefix = backend.prefix();
  // Holders that may share a key need a resource that knows who shares: see ClaimResource.
  const shared = backend.primitive === 'rw' || backend.primitive === 'semaphore';
  const resource: GuardedResource = shared ? new ClaimResource() : new FencedResource();
  const findings: Finding[] = [];
  const leakedProcesses: string[] = [];
  let leakedKeys: string[] = [];
  const phases: Record<string, number> = {};
  let mark = started;
  const phase = (name: string): void => {
    const now = performance.now();
    phases[name] = Math.round(now - mark);
    mark = now;
  };
  const deployment = await backend.deploy(plan.topology);
  phase('deploy');
  const proxies: TcpProxy[] = [];
  let pool: WorkerPool | undefined;
  let stopped = false;
  try {
    for (const endpoint of deployment.endpoints) if (plan.proxy) proxies.push(await startTcpProxy(endpoint));
    const endpoints: Endpoint[] = plan.proxy ? proxies.map((p) => ({ host: p.host, port: p.port })) : deployment.endpoints;
    pool = new WorkerPool({
      processes: sizing.processes,
      workerPath: workerPath(),
      resource,
      configFor: (proc) => ({ lapses: proc < (plan.lapses ?? 0) ? 1 : 0 }),
      config: {
        adapter: backend.id,
        primitive: backend.primitive,
        workload: workloadFor(backend.primitive),
        module: moduleUrl,
        connection: deployment.connection(endpoints),
        lockOptions: { ...backend.lockOptions(prefix), ...plan.lockOptions },
        keys: Array.from({ length: plan.keys }, (_, i) => `key-${i}`),
        workers: sizing.workersPerProcess,
        ttl: plan.ttl,
        waitTimeout: plan.waitTimeout,
        holdMs: plan.holdMs,
        writes: plan.writes,
        autoRenew: true,
        earlyToleranceMs: 5,
      },
    });
    await pool.start();
    phase('start');
    const check = await scenario.drive({ backend, deployment, pool, proxies, resource, plan, sizing });
    phase('drive');
    leakedProcesses.push(...(await pool.stop(plan.ttl + 8_000)));
    stopped = true;
    phase('stop');
    findings.push(...check());
    leakedKeys = await leftoverKeys(backend, deployment, prefix, plan, findings);
    phase('keys');
  } finally {
    if (pool !== undefined && !stopped) await pool.stop(2_000).catch(() => undefined);
    await Promise.allSettled(proxies.map((proxy) => proxy.stop()));
    const pids = deployment.servers.flatMap((server) => (server.pid === undefined ? [] : [server.pid]));
    await deployment.stop();
    for (const pid of pids) if (pidAlive(pid)) leakedProcesses.push(`server pid ${pid} still runs after stop()`);
    phase('teardown');
  }

  const history: History = {
    acquisitions: pool.acquisitions,
    writes: resource.log,
    errors: pool.errors,
    unhandled: pool.unhandled,
    leakedProcesses,
    leakedKeys,
    findings,
  };
  const verdict = judge(history, { fencing: backend.fencing, ...scenario.policy(backend) }, checksFor(backend.primitive));
  return {
    backend: backend.id,
    primitive: backend.primitive,
    scenario: scenario.id,
    title: scenario.title,
    status: verdict.status,
    verdict,
    plan,
    durationMs: performance.now() - started,
    phases,
    errorSamples: Object.fromEntries(pool.errorSamples),
  };
}

/** Options of {@link runSafetyMatrix}. */
export interface MatrixOptions extends RunOptions {
  /** Only these backends (default: all). */
  backends?: readonly BackendId[];
  /** Only the backends of these primitives (default: all). */
  primitives?: readonly Primitive[];
  /** Only these scenarios (default: all that apply). */
  scenarios?: readonly ScenarioId[];
}

/**
 * Runs every applicable (backend, scenario) row, one after the other. A backend whose package
 * is not built (or does not export its class yet) gives one `skipped` row with the reason.
 */
export async function runSafetyMatrix(options: MatrixOptions = {}): Promise<SafetyRow[]> {
  const log = options.log ?? (() => undefined);
  const rows: SafetyRow[] = [];
  for (const backend of backends) {
    if (options.backends !== undefined && !options.backends.includes(backend.id)) continue;
    if (options.primitives !== undefined && !options.primitives.includes(backend.primitive)) continue;
    const chosen = scenarios.filter(
      (s) => s.notFor(backend) === undefined && (options.scenarios === undefined || options.scenarios.includes(s.id)),
    );
    if (chosen.length === 0) continue;
    const location = await locateBackend(backend);
    if (!location.ok) {
      log(`${backend.id}: skipped: ${location.reason}`);
      for (const scenario of chosen) {
        rows.push({ backend: backend.id, primitive: backend.primitive, scenario: scenario.id, title: scenario.title, status: 'skipped', skipReason: location.reason, durationMs: 0 });
      }
      continue;
    }
    for (const scenario of chosen) {
      log(`${backend.id} / ${scenario.id}: running`);
      const row = await runSafetyRow(backend, scenario, location.url, options);
      log(`${backend.id} / ${scenario.id}: ${row.status} in ${(row.durationMs / 1000).toFixed(1)} s`);
      rows.push(row);
    }
  }
  return rows;
}
