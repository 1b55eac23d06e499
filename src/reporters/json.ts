/**
 * `--json` (run, merge): a run on stdout as JSON, without the scenario text and
 * the encoded histograms (they stay in the results folder).
 */
import type { PhaseResult, RunInfo } from '../types/results.js';

export function renderRunJson(run: RunInfo, phases: readonly PhaseResult[]): string {
  return JSON.stringify({ run: { ...run, scenario: { ...run.scenario, text: undefined } }, phases: phases.map((p) => ({ ...p, ops: p.ops.map(({ histogram: _h, ...rest }) => rest) })) }, null, 2);
}
