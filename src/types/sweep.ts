/**
 * What a run's steps swept, for every reader of a result (reporters,
 * analysis): the plan says so (RunInfo.plan.sweep); for results written
 * before the plan's facts were recorded, the data says it as well as it can.
 */
import type { PhaseResult, RunInfo } from './results.js';

export type SweepAxis = 'crds' | 'concurrency' | 'rate' | 'unknown';

export interface SweptAxis {
  by: SweepAxis;
  /** Distinct levels that ran, ascending. */
  levels: number[];
}

export function sweptAxis(run: RunInfo, phases: readonly PhaseResult[]): SweptAxis {
  const levels = [...new Set(phases.map((p) => p.level))].sort((a, b) => a - b);
  return { by: run.plan?.sweep.by ?? axisFromData(phases), levels };
}

/** A CRD sweep unless the data plainly contradicts it; then the load the phases followed. */
function axisFromData(phases: readonly PhaseResult[]): SweepAxis {
  if (phases.every((p) => p.crds === undefined || p.crds === p.level)) return 'crds';
  if (loadFollowers(phases, 'rate').length > 0) return 'rate';
  if (loadFollowers(phases, 'concurrency').length > 0) return 'concurrency';
  return 'unknown';
}

function loadMatches(load: PhaseResult['load'] | undefined, by: 'concurrency' | 'rate', level: number): boolean {
  if (load === undefined) return false;
  if (by === 'rate') return load.model === 'open' && load.rampToPerSecond === undefined && load.ratePerSecond === level;
  return load.model === 'closed' && load.concurrency === level;
}

/**
 * Names of the phases whose offered load is the step's level at every step
 * (the phases a concurrency or rate sweep drives).
 */
export function loadFollowers(phases: readonly PhaseResult[], by: 'concurrency' | 'rate'): string[] {
  const names = [...new Set(phases.map((p) => p.phase))];
  return names.filter((name) => phases.filter((p) => p.phase === name).every((p) => loadMatches(p.load, by, p.level)));
}
