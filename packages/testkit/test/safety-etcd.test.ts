// The CI-sized safety run (issue 6), part 2: the etcd backends, against real etcd (a single
// member, or a 3-member cluster for the leader kill). EtcdMutex runs every scenario; EtcdLock
// shares the lease, watchdog and release code (etcd-base) and runs the rows where its own
// acquire path matters. `pnpm safety` runs every row for both.
import { describe, expect, it } from 'vitest';
import type { BackendId, ScenarioId } from '../src/safety/index.js';
import { ROW_TIMEOUT, runCiRow } from './safety-row.js';

async function expectRow(backendId: BackendId, scenarioId: ScenarioId) {
  const { row, detail } = await runCiRow(backendId, scenarioId);
  expect(row.status, detail).toBe('pass');
  const v = row.verdict!;
  expect([v.overlaps, v.fenceInversions, v.staleAccepted, v.lostUnnoticed, v.earlyLosses, v.unhandled, v.leakedProcesses, v.leakedKeys], detail).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  expect(v.acquisitions, detail).toBeGreaterThan(0);
  return row;
}

describe('safety: etcd-mutex', () => {
  it('plain contention', () => expectRow('etcd-mutex', 'contention'), ROW_TIMEOUT);
  it('holder paused past its lease: fenced out, loss reported', async () => {
    const row = await expectRow('etcd-mutex', 'holder-paused');
    expect(row.verdict!.staleRejected).toBeGreaterThan(0);
  }, ROW_TIMEOUT);
  it('member paused past the lease, mid-section and mid-release', () => expectRow('etcd-mutex', 'server-paused'), ROW_TIMEOUT);
  it('leader killed in a 3-member cluster: no overlap, locking resumes', () => expectRow('etcd-mutex', 'etcd-leader-kill'), ROW_TIMEOUT);
  it('latency, cut connections and held traffic through a TCP proxy', () => expectRow('etcd-mutex', 'proxy-faults'), ROW_TIMEOUT);
  it('holder SIGKILLed: free after the lease, not before', () => expectRow('etcd-mutex', 'holder-killed'), ROW_TIMEOUT);
});

describe('safety: etcd-lock', () => {
  it('plain contention', () => expectRow('etcd-lock', 'contention'), ROW_TIMEOUT);
  it('holder SIGKILLed: free after the lease, not before', () => expectRow('etcd-lock', 'holder-killed'), ROW_TIMEOUT);
});
