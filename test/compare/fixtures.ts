/**
 * Synthetic results for the compare tests: one RunSummary per repetition,
 * each row given by the figures that matter to a verdict.
 */
import type { OpSummary, PhaseResult, RunSummary } from '../../src/types/results.js';

export interface RowSpec {
  step?: number;
  phase: string;
  op: string;
  /** Latency of the row, ms: p99 as given, p90 and p50 scaled down unless given. */
  p99: number;
  p90?: number;
  p50?: number;
  /** Successful requests (default 2,000: enough for a p99). */
  ok?: number;
  errors?: Record<string, number>;
  throughput?: number;
  saturated?: boolean;
  limit?: 'duration' | 'iterations';
  model?: 'closed' | 'open';
}

export function makeOp(spec: RowSpec): OpSummary {
  const ok = spec.ok ?? 2000;
  const failed = Object.values(spec.errors ?? {}).reduce((a, b) => a + b, 0);
  const p90 = spec.p90 ?? spec.p99 / 2;
  const p50 = spec.p50 ?? spec.p99 / 4;
  return {
    op: spec.op,
    count: ok + failed,
    ok,
    errors: spec.errors ?? {},
    throughput: spec.throughput ?? 100,
    bytes: ok * 512,
    latencyMs: ok === 0 ? { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 } : { p50, p90, p99: spec.p99, p999: spec.p99 * 1.2, max: spec.p99 * 1.5, mean: p50 },
    histogram: 'HISTFAAAAA==',
  };
}

function makePhase(spec: RowSpec): PhaseResult {
  const saturated = spec.saturated ?? false;
  return {
    step: spec.step ?? 0,
    level: (spec.step ?? 0) * 100,
    crds: 0,
    load: spec.model === 'open' ? { model: 'open', ratePerSecond: 100 } : { model: 'closed', concurrency: 4 },
    phase: spec.phase,
    kind: spec.op.split('.')[0]!,
    limit: spec.limit ?? 'duration',
    primary: spec.op,
    startedAt: '2026-11-29T00:00:00.000Z',
    durationMs: 5000,
    ops: [makeOp(spec)],
    harness: {
      cpuCores: saturated ? 0.97 : 0.3,
      eventLoopDelayP99Ms: 1,
      eventLoopDelayMaxMs: 2,
      rssMaxBytes: 1e8,
      saturated,
      ...(saturated ? { saturatedBy: ['load thread CPU 0.97 cores (limit 0.9)'] } : {}),
    },
  };
}

/** One run: every row its own phase. */
export function makeRun(rows: readonly RowSpec[], runId = 'r'): RunSummary {
  return { formatVersion: 1, runId, phases: rows.map(makePhase) };
}

/** Repetitions of a one-row run: the row's p99 (and p50/p90 in proportion) takes each value in turn. */
export function repsOf(base: Omit<RowSpec, 'p99'>, p99s: readonly number[], tweak: (rep: number) => Partial<RowSpec> = () => ({})): RunSummary[] {
  return p99s.map((p99, i) => makeRun([{ ...base, p99, ...tweak(i) }], `rep-${i}`));
}

/** Repetitions of a many-row run: rows[r] gives each repetition's p99 of row r. */
export function repsOfRows(rows: readonly { spec: Omit<RowSpec, 'p99'>; p99s: readonly number[] }[]): RunSummary[] {
  const n = rows[0]!.p99s.length;
  return Array.from({ length: n }, (_, i) => makeRun(rows.map((r) => ({ ...r.spec, p99: r.p99s[i]! })), `rep-${i}`));
}
