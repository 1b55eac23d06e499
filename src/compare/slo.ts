/**
 * Checking a run against the scenario's latency objectives (`slo:`), e.g.
 * `create.p99: 1s`: the named phase's primary operation, at every step.
 */
import { parseDurationMs } from '../types/duration.js';
import type { PhaseResult } from '../types/results.js';

export interface SloVerdict {
  passed: boolean;
  lines: string[];
}

export function evaluateSlos(slo: Readonly<Record<string, string>>, phases: readonly PhaseResult[]): SloVerdict {
  const lines: string[] = [];
  let passed = true;
  for (const [key, limit] of Object.entries(slo)) {
    const dot = key.lastIndexOf('.');
    const phaseName = key.slice(0, dot);
    const stat = key.slice(dot + 1) as 'p50' | 'p90' | 'p99' | 'p999' | 'max';
    const limitMs = parseDurationMs(limit);
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
