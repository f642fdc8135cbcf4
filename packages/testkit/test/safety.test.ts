// The CI-sized safety run (issue 6), part 1: Redis and Redlock rows, plus the checker's own
// negative controls. Real servers, real worker processes; every row fails the test on an
// overlap, an accepted stale write, an unhandled rejection, a leak or a scenario finding.
// `pnpm safety` runs the full matrix (every scenario, longer) and writes docs/safety.md.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../src/servers/index.js';
import {
  backendSpec,
  describeRow,
  FencedResource,
  judge,
  locateBackend,
  testkitRoot,
  WorkerPool,
  workerPath,
  type BackendId,
  type ScenarioId,
  type WorkerConfig,
} from '../src/safety/index.js';
import { ROW_TIMEOUT, runCiRow } from './safety-row.js';

/** Runs one row at CI size and fails on anything but a pass or a documented row. */
async function expectRow(backendId: BackendId, scenarioId: ScenarioId) {
  const { row, detail } = await runCiRow(backendId, scenarioId);
  expect(row.status, detail).not.toBe('fail');
  const v = row.verdict!;
  expect(v.acquisitions, detail).toBeGreaterThan(0);
  expect([v.overlaps === 0 || row.status === 'documented', v.staleAccepted, v.unhandled, v.leakedProcesses, v.leakedKeys], detail).toEqual([true, 0, 0, 0, 0]);
  return row;
}

describe('safety: redis', () => {
  it('plain contention: thousands of acquisitions, no overlap', async () => {
    const row = await expectRow('redis', 'contention');
    // Real contention was exercised: ~1 000 acquisitions in the 3 s run on an idle 2-core machine,
    // ~500 with both cores busy, ~150 in the whole suite with both cores busy. The bound is for
    // the run's size, not a throughput figure; an order-of-magnitude collapse still fails it.
    expect(row.verdict!.acquisitions).toBeGreaterThanOrEqual(100);
  }, ROW_TIMEOUT);
  it('holder paused past its TTL: fenced out, loss reported, its unlock leaves the new holder alone', async () => {
    const row = await expectRow('redis', 'holder-paused');
    expect(row.verdict!.staleRejected).toBeGreaterThan(0);
  }, ROW_TIMEOUT);
  it('server paused past the TTL', () => expectRow('redis', 'server-paused'), ROW_TIMEOUT);
  it('restarted empty while held: the documented unsafety, caught by fencing', async () => {
    const row = await expectRow('redis', 'restart-empty');
    expect(row.status, describeRow(row)).toBe('documented');
    // Fencing caught every stale write: some were rejected, none accepted.
    expect(row.verdict!.staleRejected, describeRow(row)).toBeGreaterThan(0);
    expect(row.verdict!.staleAccepted).toBe(0);
  }, ROW_TIMEOUT);
  it('latency, cut connections and held traffic through a TCP proxy', () => expectRow('redis', 'proxy-faults'), ROW_TIMEOUT);
  it('holder SIGKILLed: free after the TTL, not before', () => expectRow('redis', 'holder-killed'), ROW_TIMEOUT);
});

describe('safety: redlock', () => {
  it('plain contention', () => expectRow('redlock', 'contention'), ROW_TIMEOUT);
  it('a minority of nodes paused and killed', () => expectRow('redlock', 'redlock-minority'), ROW_TIMEOUT);
  it('holder SIGKILLed: free after the TTL, not before', () => expectRow('redlock', 'holder-killed'), ROW_TIMEOUT);
});

describe('safety checker: its own checks fire', () => {
  let redis: RedisServer;
  let moduleUrl: string;
  beforeAll(async () => {
    const location = await locateBackend(backendSpec('redis'));
    if (!location.ok) throw new Error(`redis cannot be checked: ${location.reason}`);
    moduleUrl = location.url;
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  /** A short Redis run driven directly through the pool, judged like a row. */
  async function run(options: { configFor?: (proc: number) => Partial<WorkerConfig>; selfTest?: WorkerConfig['selfTest']; graceMs?: number }) {
    const resource = new FencedResource();
    const prefix = backendSpec('redis').prefix();
    const pool = new WorkerPool({
      processes: 3,
      workerPath: workerPath(),
      resource,
      ...(options.configFor === undefined ? {} : { configFor: options.configFor }),
      config: {
        adapter: 'redis',
        module: moduleUrl,
        connection: { host: '127.0.0.1', port: redis.port },
        lockOptions: { prefix, operationTimeout: 500 },
        keys: ['k'],
        workers: 2,
        ttl: 2_000,
        waitTimeout: 5_000,
        holdMs: [1, 4],
        writes: 2,
        autoRenew: true,
        earlyToleranceMs: 5,
        ...(options.selfTest === undefined ? {} : { selfTest: options.selfTest }),
      },
    });
    await pool.start();
    await pool.runFor(1_200);
    const leakedProcesses = await pool.stop(options.graceMs ?? 5_000);
    const history = { acquisitions: pool.acquisitions, writes: resource.log, errors: pool.errors, unhandled: pool.unhandled, leakedProcesses, leakedKeys: [], findings: [] };
    return judge(history, { fencing: 'strict' });
  }

  it('catches processes that do not exclude each other (each in its own namespace)', async () => {
    const verdict = await run({ configFor: (proc) => ({ lockOptions: { prefix: `${backendSpec('redis').prefix()}-p${proc}`, operationTimeout: 500 } }) });
    expect(verdict.status).toBe('fail');
    expect(verdict.overlaps).toBeGreaterThan(0);
    expect(verdict.staleRejected + verdict.staleAccepted).toBeGreaterThan(0);
  }, ROW_TIMEOUT);

  it('the same run sharing one namespace passes', async () => {
    const verdict = await run({});
    expect(verdict.failures).toEqual([]);
    expect(verdict.acquisitions).toBeGreaterThan(20);
  }, ROW_TIMEOUT);

  it('reports an unhandled rejection in a worker', async () => {
    const verdict = await run({ selfTest: 'unhandled-rejection' });
    expect(verdict.unhandled).toBe(3);
    expect(verdict.status).toBe('fail');
  }, ROW_TIMEOUT);

  it('reports a worker that keeps running after close() as leaked, and kills it', async () => {
    const verdict = await run({ selfTest: 'linger', graceMs: 1_500 });
    expect(verdict.leakedProcesses).toBe(3);
    expect(verdict.failures.join('\n')).toMatch(/open handles/);
  }, ROW_TIMEOUT);
});

describe('safety checker: worker.mjs is found from source and from the build', () => {
  it('from source', () => {
    expect(workerPath()).toBe(path.join(testkitRoot(), 'src', 'safety', 'worker.mjs'));
    expect(existsSync(workerPath())).toBe(true);
  });

  it('from dist (ESM and CJS builds)', () => {
    const dist = path.join(testkitRoot(), 'dist');
    const hint = 'packages/testkit/src/index.ts must export ./safety/index.js and the testkit must be built (pnpm --filter @dlock/testkit build)';
    for (const [file, code] of [
      ['index.js', `import(${JSON.stringify(path.join(dist, 'index.js'))}).then((m) => process.stdout.write(String(m.workerPath?.())))`],
      ['index.cjs', `process.stdout.write(String(require(${JSON.stringify(path.join(dist, 'index.cjs'))}).workerPath?.()))`],
    ] as const) {
      const out = execFileSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: testkitRoot() });
      expect(out, `${file}: ${hint}`).toBe(workerPath());
    }
  });
});
