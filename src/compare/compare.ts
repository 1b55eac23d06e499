/**
 * Comparing a baseline with a candidate: the same scenario on two server
 * builds, or the same build on two days. One row per step ▸ phase ▸
 * operation, both values, the delta, and a verdict.
 *
 * Noise is not a regression: a row regresses only when the change passes
 * both a relative threshold and an absolute floor, and — when both sides have
 * at least three repetitions — when a one-sided Mann-Whitney U test over the
 * repetitions says the candidate is worse (p ≤ alpha).
 */
import type { OpSummary, PhaseResult, RunSummary } from '../types/results.js';
import { compareProfiles, type ProfileComparison } from './profiles.js';

export interface Thresholds {
  /** Relative p99 increase that counts as a regression (0.10 = +10%). */
  p99: number;
  /** Relative throughput decrease that counts as a regression (0.05 = −5%). */
  throughput: number;
  /** Absolute p99 change below which nothing is called a regression, ms. */
  p99FloorMs: number;
  /** Error-rate increase (fraction of requests) that counts, when no new class appears. */
  errorRate: number;
  /** Significance level of the repetition test. */
  alpha: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { p99: 0.1, throughput: 0.05, p99FloorMs: 1, errorRate: 0.01, alpha: 0.05 };

export type Verdict = 'regression' | 'improvement' | 'same' | 'only-baseline' | 'only-candidate';

export interface SideStats {
  /** Median over repetitions of each figure. */
  p50: number;
  p99: number;
  throughput: number;
  errorRate: number;
  count: number;
  errorClasses: string[];
  /** Per-repetition p99s, for the significance test. */
  p99s: number[];
  throughputs: number[];
}

export interface ComparisonRow {
  step: number;
  level: number;
  phase: string;
  op: string;
  baseline?: SideStats;
  candidate?: SideStats;
  /** Relative changes, candidate vs baseline. */
  deltaP99?: number;
  deltaThroughput?: number;
  /** p-value of the repetition test on p99, when there were enough repetitions. */
  pValue?: number;
  verdict: Verdict;
  reasons: string[];
}

export interface Comparison {
  rows: ComparisonRow[];
  regressions: number;
  improvements: number;
  verdict: 'regression' | 'no-regression';
  repetitions: { baseline: number; candidate: number };
  thresholds: Thresholds;
  /** Component deltas, when both sides were profiled (`run --profile`); informative, not part of the verdict. */
  profiles?: ProfileComparison;
}

type Key = string;
const keyOf = (p: PhaseResult, op: OpSummary): Key => `${p.step}\u0000${p.phase}\u0000${op.op}`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function collect(runs: readonly RunSummary[]): Map<Key, { phase: PhaseResult; ops: OpSummary[] }> {
  const byKey = new Map<Key, { phase: PhaseResult; ops: OpSummary[] }>();
  for (const run of runs) {
    for (const phase of run.phases) {
      for (const op of phase.ops) {
        // Rows with latencies only: pure counters (bookmarks, pages) are not compared.
        if (op.latencyMs.max === 0 && op.ok > 0) continue;
        const k = keyOf(phase, op);
        const entry = byKey.get(k) ?? { phase, ops: [] };
        entry.ops.push(op);
        byKey.set(k, entry);
      }
    }
  }
  return byKey;
}

function side(ops: OpSummary[]): SideStats {
  const errorsOf = (o: OpSummary) => Object.entries(o.errors).filter(([c]) => c !== 'http-429').reduce((a, [, n]) => a + n, 0);
  return {
    p50: median(ops.map((o) => o.latencyMs.p50)),
    p99: median(ops.map((o) => o.latencyMs.p99)),
    throughput: median(ops.map((o) => o.throughput)),
    errorRate: median(ops.map((o) => (o.count === 0 ? 0 : errorsOf(o) / o.count))),
    count: Math.round(median(ops.map((o) => o.count))),
    errorClasses: [...new Set(ops.flatMap((o) => Object.keys(o.errors)))].sort(),
    p99s: ops.map((o) => o.latencyMs.p99),
    throughputs: ops.map((o) => o.throughput),
  };
}

export function compareRuns(baseline: readonly RunSummary[], candidate: readonly RunSummary[], thresholds: Thresholds = DEFAULT_THRESHOLDS): Comparison {
  const b = collect(baseline);
  const c = collect(candidate);
  const keys = [...new Set([...b.keys(), ...c.keys()])];
  const rows: ComparisonRow[] = [];
  for (const k of keys) {
    const be = b.get(k);
    const ce = c.get(k);
    const phase = (be ?? ce)!.phase;
    const op = k.split('\u0000')[2]!;
    const row: ComparisonRow = { step: phase.step, level: phase.level, phase: phase.phase, op, verdict: 'same', reasons: [] };
    if (!be || !ce) {
      row.verdict = be ? 'only-baseline' : 'only-candidate';
      if (be) row.baseline = side(be.ops);
      if (ce) row.candidate = side(ce.ops);
      rows.push(row);
      continue;
    }
    const bs = side(be.ops);
    const cs = side(ce.ops);
    row.baseline = bs;
    row.candidate = cs;
    row.deltaP99 = bs.p99 > 0 ? (cs.p99 - bs.p99) / bs.p99 : undefined;
    row.deltaThroughput = bs.throughput > 0 ? (cs.throughput - bs.throughput) / bs.throughput : undefined;
    const enough = bs.p99s.length >= 3 && cs.p99s.length >= 3;
    // Direction follows the observed change: is the candidate's p99 larger (or smaller)?
    if (enough) row.pValue = mannWhitneyU(bs.p99s, cs.p99s, cs.p99 >= bs.p99 ? 'greater' : 'less');
    const significant = !enough || (row.pValue ?? 1) <= thresholds.alpha;

    const p99Up = row.deltaP99 !== undefined && row.deltaP99 > thresholds.p99 && cs.p99 - bs.p99 > thresholds.p99FloorMs;
    const p99Down = row.deltaP99 !== undefined && row.deltaP99 < -thresholds.p99 && bs.p99 - cs.p99 > thresholds.p99FloorMs;
    // Throughput is a verdict only where the server sets it: closed-model phases that run for a
    // duration. With a fixed iteration count or an arrival rate it mirrors latency or the offered load.
    const serverPaced = phase.limit === 'duration' && phase.load.model === 'closed';
    const throughputDown = serverPaced && row.deltaThroughput !== undefined && row.deltaThroughput < -thresholds.throughput;
    const throughputSignificant = !enough || mannWhitneyU(bs.throughputs, cs.throughputs, 'less') <= thresholds.alpha;
    const newErrors = cs.errorClasses.filter((cls) => !bs.errorClasses.includes(cls));
    const errorsUp = cs.errorRate - bs.errorRate > thresholds.errorRate;

    if (newErrors.length > 0) row.reasons.push(`new error class ${newErrors.join(', ')}`);
    if (errorsUp) row.reasons.push(`error rate ${(bs.errorRate * 100).toFixed(1)}% → ${(cs.errorRate * 100).toFixed(1)}%`);
    if (p99Up && significant) row.reasons.push(`p99 +${(row.deltaP99! * 100).toFixed(0)}%`);
    if (p99Up && !significant) row.reasons.push(`p99 +${(row.deltaP99! * 100).toFixed(0)}% but not significant (p=${row.pValue!.toFixed(3)})`);

    if (throughputDown && throughputSignificant) row.reasons.push(`throughput ${(row.deltaThroughput! * 100).toFixed(0)}%`);

    if (newErrors.length > 0 || errorsUp || (p99Up && significant) || (throughputDown && throughputSignificant)) row.verdict = 'regression';
    else if (p99Down && significant) {
      row.verdict = 'improvement';
      row.reasons.push(`p99 ${(row.deltaP99! * 100).toFixed(0)}%`);
    }
    rows.push(row);
  }
  rows.sort((x, y) => x.step - y.step || x.phase.localeCompare(y.phase) || x.op.localeCompare(y.op));
  const regressions = rows.filter((r) => r.verdict === 'regression').length;
  const profiles = compareProfiles(baseline, candidate);
  return {
    rows,
    regressions,
    improvements: rows.filter((r) => r.verdict === 'improvement').length,
    verdict: regressions > 0 ? 'regression' : 'no-regression',
    repetitions: { baseline: baseline.length, candidate: candidate.length },
    thresholds,
    ...(profiles ? { profiles } : {}),
  };
}

/**
 * One-sided Mann-Whitney U test: the p-value of "b tends to be larger than a"
 * (or smaller, with `direction: 'less'`). Exact (enumerating every split of
 * the pooled ranks) for the small samples that repetitions give, so 3 vs 3
 * repetitions that do not overlap at all reach p = 1/20 = 0.05; a normal
 * approximation with tie correction beyond that. One-sided because the
 * question is directional: is the candidate worse?
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[], direction: 'greater' | 'less' = 'greater'): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return 1;
  const pooled = [...a, ...b];
  const ranks = rankWithTies(pooled);
  // U of sample b: how often a b-value beats an a-value (ties count half).
  const uOf = (bIdx: readonly number[]) => bIdx.reduce((sum, i) => sum + ranks[i]!, 0) - (n2 * (n2 + 1)) / 2;
  const bIndices = b.map((_, i) => n1 + i);
  const observed = uOf(bIndices);
  const stat = (u: number) => (direction === 'greater' ? u : -u);
  if (binomial(n1 + n2, n2) <= 50_000) {
    let extreme = 0;
    let total = 0;
    for (const combo of combinations(n1 + n2, n2)) {
      total++;
      if (stat(uOf(combo)) >= stat(observed) - 1e-9) extreme++;
    }
    return extreme / total;
  }
  const mean = (n1 * n2) / 2;
  const n = n1 + n2;
  const tieTerm = tieCorrection(pooled);
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = (stat(observed - mean) - 0.5) / Math.sqrt(variance);
  return 1 - normalCdf(z);
}

function rankWithTies(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.v === order[i]!.v) j++;
    for (let k = i; k <= j; k++) ranks[order[k]!.i] = (i + j + 2) / 2;
    i = j + 1;
  }
  return ranks;
}

function tieCorrection(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let t = 0;
  for (const c of counts.values()) t += c * c * c - c;
  return t;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

function* combinations(n: number, k: number): Generator<number[]> {
  const combo = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield combo;
    let i = k - 1;
    while (i >= 0 && combo[i] === n - k + i) i--;
    if (i < 0) return;
    combo[i]!++;
    for (let j = i + 1; j < k; j++) combo[j] = combo[j - 1]! + 1;
  }
}

function normalCdf(z: number): number {
  // Abramowitz-Stegun 7.1.26 approximation of erf.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
