import { backendSpec, describeRow, locateBackend, runSafetyRow, scenarioById, sizings, type BackendId, type ScenarioId, type SafetyRow } from '../src/safety/index.js';

/** Longest one CI-sized safety row may take. */
export const ROW_TIMEOUT = 90_000;

/** Runs one row at CI size; a backend that is not built fails with the build command to run. */
export async function runCiRow(backendId: BackendId, scenarioId: ScenarioId): Promise<{ row: SafetyRow; detail: string }> {
  const backend = backendSpec(backendId);
  const location = await locateBackend(backend);
  if (!location.ok) throw new Error(`${backendId} cannot be checked: ${location.reason}`);
  const row = await runSafetyRow(backend, scenarioById(scenarioId), location.url, { sizing: sizings.ci });
  return { row, detail: describeRow(row) };
}
