import { contention, holderKilled, holderPaused } from './holder-faults.js';
import { proxyFaults } from './network-faults.js';
import type { Scenario } from './scenario.js';
import { etcdLeaderKill, redlockMinority, restartEmpty, serverPaused, serverRestarted } from './server-faults.js';
import type { ScenarioId } from './types.js';

export { sizings, workloadFor, type Scenario, type ScenarioContext, type ScenarioPlan, type Sizing } from './scenario.js';

/** Every scenario, in report order. */
export const scenarios: readonly Scenario[] = [
  contention,
  holderPaused,
  serverPaused,
  restartEmpty,
  serverRestarted,
  redlockMinority,
  etcdLeaderKill,
  proxyFaults,
  holderKilled,
];

/** The scenario `id`. */
export function scenarioById(id: ScenarioId): Scenario {
  const scenario = scenarios.find((s) => s.id === id);
  if (scenario === undefined) throw new RangeError(`unknown safety scenario ${id}`);
  return scenario;
}
