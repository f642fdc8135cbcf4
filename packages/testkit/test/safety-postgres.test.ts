// The CI-sized safety run, part 3: PostgresLock against a real PostgreSQL server (a fresh one per
// row, each row's workers in a lock table of their own). Every row must pass outright: leases
// are committed rows on the server's clock, so not even a crash of the server is a documented
// unsafety. `pnpm safety --backend postgres` runs the full-size rows.
import { describe, expect, it } from 'vitest';
import type { ScenarioId } from '../src/safety/index.js';
import { ROW_TIMEOUT, runCiRow } from './safety-row.js';

async function expectRow(scenarioId: ScenarioId) {
  const { row, detail } = await runCiRow('postgres', scenarioId);
  expect(row.status, detail).toBe('pass');
  const v = row.verdict!;
  expect([v.overlaps, v.fenceInversions, v.staleAccepted, v.lostUnnoticed, v.earlyLosses, v.unhandled, v.leakedProcesses, v.leakedKeys], detail).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  expect(v.acquisitions, detail).toBeGreaterThan(0);
  return { row, detail };
}

describe('safety: postgres', () => {
  it('plain contention', async () => {
    const { row, detail } = await expectRow('contention');
    // A bound for the run's size (hundreds on a busy 2-core machine), not a throughput figure.
    expect(row.verdict!.acquisitions, detail).toBeGreaterThanOrEqual(100);
  }, ROW_TIMEOUT);
  it('holder paused past its lease: fenced out, loss reported, its release leaves the new holder alone', async () => {
    const { row, detail } = await expectRow('holder-paused');
    expect(row.verdict!.staleRejected, detail).toBeGreaterThan(0);
  }, ROW_TIMEOUT);
  it('server paused past the lease, mid-section and mid-release', () => expectRow('server-paused'), ROW_TIMEOUT);
  it('server killed and restarted with its data while held: no overlap, fences keep increasing, locking resumes', () => expectRow('server-restarted'), ROW_TIMEOUT);
  it('latency, cut connections and held traffic through a TCP proxy', () => expectRow('proxy-faults'), ROW_TIMEOUT);
  it('holder SIGKILLed: free after the lease, not before', () => expectRow('holder-killed'), ROW_TIMEOUT);
});
