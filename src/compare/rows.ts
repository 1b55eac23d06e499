/**
 * Rows of a comparison: one per step ▸ phase ▸ operation, with each
 * repetition's figures, and the rules that say which latency figure a row can
 * be judged on.
 *
 * A percentile needs samples beyond it: the p99 of 20 requests is their
 * maximum, and the maximum of a run is whatever hiccup it met. A row is
 * judged on the highest percentile that has at least MIN_SAMPLES_BEYOND
 * successful requests above it in every repetition: p99 from 1,000 requests,
 * p90 from 100, p50 from 20. Fewer than 20: not comparable.
 */
import type { OpSummary, PhaseResult, RunSummary } from '../types/results.js';

export type Statistic = 'p99' | 'p90' | 'p50';

/** Samples a percentile needs beyond it, in every repetition, to be compared. */
export const MIN_SAMPLES_BEYOND = 10;

/** Highest first: the figure a row is judged on is the first one its samples allow. */
export const STATISTICS: readonly { stat: Statistic; minSamples: number }[] = [
  { stat: 'p99', minSamples: MIN_SAMPLES_BEYOND * 100 },
  { stat: 'p90', minSamples: MIN_SAMPLES_BEYOND * 10 },
  { stat: 'p50', minSamples: MIN_SAMPLES_BEYOND * 2 },
];

/** The highest percentile that `samples` successful requests (per repetition) can support, if any. */
export function statisticFor(samples: number): Statistic | undefined {
  return STATISTICS.find((s) => samples >= s.minSamples)?.stat;
}

export const minSamplesFor = (stat: Statistic): number => STATISTICS.find((s) => s.stat === stat)!.minSamples;

/** One repetition of a row: the operation's figures and the phase it ran in. */
export interface Rep {
  op: OpSummary;
  phase: PhaseResult;
}

export interface RowReps {
  step: number;
  level: number;
  phase: string;
  op: string;
  reps: Rep[];
}

export const rowKey = (step: number, phase: string, op: string): string => `${step}\u0000${phase}\u0000${op}`;

/** Rows with latencies, each with its repetitions in run order. Pure counters (bookmarks, pages) are not compared. */
export function collectRows(runs: readonly RunSummary[]): Map<string, RowReps> {
  const rows = new Map<string, RowReps>();
  for (const run of runs) {
    for (const phase of run.phases) {
      for (const op of phase.ops) {
        if (op.latencyMs.max === 0 && op.ok > 0) continue;
        const key = rowKey(phase.step, phase.phase, op.op);
        const row = rows.get(key) ?? { step: phase.step, level: phase.level, phase: phase.phase, op: op.op, reps: [] };
        row.reps.push({ op, phase });
        rows.set(key, row);
      }
    }
  }
  return rows;
}

/** Repetitions whose phase did not saturate the harness: a saturated harness measured itself. */
export const unsaturated = (reps: readonly Rep[]): Rep[] => reps.filter((r) => !r.phase.harness.saturated);

/** Why the first saturated repetition counted as saturated, for a reason text. */
export function saturationCause(reps: readonly Rep[]): string {
  const first = reps.find((r) => r.phase.harness.saturated);
  return first?.phase.harness.saturatedBy?.[0] ?? 'harness saturated';
}

/** Throughput is a verdict only where the server sets it: closed-model phases that run for a duration (else it mirrors latency or the offered load). */
export const serverPaced = (phase: PhaseResult): boolean => phase.limit === 'duration' && phase.load.model === 'closed';
