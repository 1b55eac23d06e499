/**
 * Checking a run against the scenario's latency objectives (`slo:`), e.g.
 * `create.p99: 1s`: the named phase's primary operation, at every step. The
 * objectives come normalized with the result (RunInfo.plan.slos).
 */
import type { PhaseResult, SloFact } from '../types/results.js';

export interface SloVerdict {
  passed: boolean;
  lines: string[];
}

export function evaluateSlos(slos: readonly SloFact[], phases: readonly PhaseResult[]): SloVerdict {
  const lines: string[] = [];
  let passed = true;
  for (const { key, phase: phaseName, stat, limit, limitMs } of slos) {
    const matching = phases.filter((p) => p.phase === phaseName);
    if (matching.length === 0) {
      lines.push(`SLO ${key} ≤ ${limit}: no phase "${phaseName}" ran`);
      passed = false;
      continue;
    }
    for (const phase of matching) {
      const op = phase.ops.find((o) => o.op === phase.primary);
      if (!op || op.ok === 0) {
        lines.push(`SLO ${key} ≤ ${limit}: step ${phase.step} has no successful ${phase.primary}: MISSED`);
        passed = false;
        continue;
      }
      const value = op.latencyMs[stat];
      const ok = value <= limitMs;
      if (!ok) passed = false;
      lines.push(`SLO ${key} ≤ ${limit}: step ${phase.step} ${stat}=${value}ms ${ok ? 'met' : 'MISSED'}`);
    }
  }
  return { passed, lines };
}
