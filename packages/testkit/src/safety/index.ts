// The multi-process safety checker: worker processes contend for keys through a backend's
// public API, write to a fenced resource, and the verdict proves mutual exclusion and fencing,
// also under injected faults. A test alone cannot show this: one process cannot be paused,
// killed or cut off from its server while its own assertions keep running.
export { FencedResource, type GuardedResource } from './resource.js';
export { ClaimResource } from './resource-claims.js';
export { admits } from './claims.js';
export { findOrderInversions } from './intervals.js';
export {
  findFenceInversions,
  findLostUnnoticed,
  findOverlaps,
  findStaleAccepted,
  judge,
  mutexChecks,
  type Conflict,
  type PrimitiveChecks,
} from './verdict.js';
export { findClaimConflicts, findClaimLostUnnoticed, findClaimStaleAccepted } from './verdict-claims.js';
export { findRWFenceInversions, rwChecks } from './verdict-rw.js';
export { semaphoreChecks } from './verdict-semaphore.js';
export { electionChecks } from './verdict-election.js';
export { checksFor } from './verdict-checks.js';
export { startTcpProxy, type TcpProxy, type TcpProxyOptions } from './proxy.js';
export { WorkerPool, type Step, type WorkerPoolOptions } from './pool.js';
export { backends, backendSpec, locateBackend, type BackendSpec, type Deployment, type Endpoint } from './backends.js';
export { scenarioById, scenarios, sizings, workloadFor, type Scenario, type ScenarioContext, type ScenarioPlan, type Sizing } from './scenarios.js';
export { runSafetyMatrix, runSafetyRow, type MatrixOptions, type RunOptions, type SafetyRow } from './checker.js';
export { describeRow, machineInfo, renderJson, renderMarkdown, renderTable, type MachineInfo, type SafetyReport } from './report.js';
export { backendModule, testkitRoot, workerPath, type ModuleLocation } from './locate.js';
export type {
  Acquisition,
  BackendId,
  Claim,
  Primitive,
  PrimitiveWorkload,
  Finding,
  History,
  Outcome,
  ScenarioId,
  Verdict,
  VerdictPolicy,
  WorkerConfig,
  WriteRecord,
} from './types.js';
