/**
 * Comparing a baseline with a candidate: the same scenario on two server
 * builds, or the same build on two days. One row per step ▸ phase ▸
 * operation, both values, the delta, and a verdict.
 *
 * Noise is not a regression. A row is judged in this order:
 * 1. Not comparable when it cannot be judged: every repetition of a side
 *    saturated the harness (saturated repetitions are left out; with
 *    repetitions and no noise file, fewer than 2 left on a side), or too few
 *    successful requests for even a p50 (rows.ts). Never a regression on
 *    latency; only errors the server itself answered (http-<code>) still
 *    count there (serverErrorRegression).
 * 2. Regression on errors: an error class the baseline never had, in at least
 *    half of the candidate's repetitions, or an error rate up by more than
 *    `errorRate`.
 * 3. Latency, on the highest percentile the samples support (p99, p90, p50):
 *    a regression when it grows more than the relative threshold and the
 *    absolute floor and, when a test is possible, the test says so after
 *    Benjamini-Hochberg across every test of the comparison (false-discovery
 *    rate `alpha`), the repetitions are consistently ordered (exact
 *    Mann-Whitney, with ≥ 3 per side), and the change is beyond the
 *    calibrated noise (with a noise file). Throughput of server-paced phases
 *    likewise, downwards.
 * A test is possible with ≥ 3 repetitions per side (Student's t on logs), or
 * with a noise file at any count (pooled t). Without either (one run vs one
 * run), thresholds alone decide, and the headline says so.
 */
import type { RunSummary } from '../types/results.js';
import { NoiseIndex, type NoiseFile } from './noise.js';
import { compareProfiles, type ProfileComparison } from './profiles.js';
import {
  collectRows,
  minSamplesFor,
  saturationCause,
  serverPaced,
  statisticFor,
  unsaturated,
  type Rep,
  type RowReps,
  type Statistic,
} from './rows.js';
import { benjaminiHochberg, criticalChange, logOf, mannWhitneyU, median, tTest, type Direction, type NoiseVariance } from './stats.js';

export interface Thresholds {
  /** Relative increase of the compared percentile that counts as a regression (0.10 = +10%). */
  p99: number;
  /** Relative throughput decrease that counts as a regression (0.05 = −5%). */
  throughput: number;
  /** Absolute change of the compared percentile below which nothing is called a regression, ms. */
  p99FloorMs: number;
  /** Error-rate increase (fraction of requests) that counts, when no new class appears. */
  errorRate: number;
  /** False-discovery rate across the comparison's tests (Benjamini-Hochberg), and the level of the Mann-Whitney check. */
  alpha: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { p99: 0.1, throughput: 0.05, p99FloorMs: 1, errorRate: 0.01, alpha: 0.05 };

/** Repetitions per side that make a comparison test its rows when there is no noise file. */
export const MIN_REPETITIONS_FOR_TEST = 3;
/** Unsaturated repetitions a side must keep for the t-test without a noise file; the Mann-Whitney check needs MIN_REPETITIONS_FOR_TEST. */
export const MIN_REPETITIONS_LEFT = 2;

export type Verdict = 'regression' | 'improvement' | 'same' | 'not-comparable' | 'only-baseline' | 'only-candidate';

export interface SideStats {
  /** Median over the repetitions used of each figure. */
  p50: number;
  p90: number;
  p99: number;
  throughput: number;
  errorRate: number;
  count: number;
  /** Fewest successful requests in one repetition used. */
  samples: number;
  errorClasses: string[];
  /** Per error class, how many of the repetitions used had it. */
  errorRepetitions: Record<string, number>;
  /** Repetitions used, and those left out because the harness saturated. */
  repetitions: number;
  saturated: number;
  /** Per-repetition values of the compared percentile, for the tests. */
  values: number[];
  throughputs: number[];
}

/** One test of "the candidate is worse" (and, for the record, "better"). */
export interface Hypothesis {
  /** One-sided p-values, raw and Benjamini-Hochberg adjusted. */
  pWorse: number;
  pBetter: number;
  qWorse?: number;
  qBetter?: number;
  /** Exact Mann-Whitney p-values of the same directions, with ≥ 3 repetitions per side. */
  mannWhitneyWorse?: number;
  mannWhitneyBetter?: number;
  /** Smallest relative change this test calls at the comparison's strictest level (α/m): what it can detect. */
  detectable: number;
  /** The relative change the calibrated noise alone allows at α (with a noise file). */
  noiseBand?: number;
  test: 'student' | 'pooled-noise';
  /** Standard error of the log difference, and its degrees of freedom. */
  se: number;
  dof: number;
}

export interface ComparisonRow {
  step: number;
  level: number;
  phase: string;
  op: string;
  /** The latency percentile this row is judged on. */
  statistic?: Statistic;
  baseline?: SideStats;
  candidate?: SideStats;
  /** Relative changes, candidate vs baseline (medians). */
  delta?: number;
  deltaThroughput?: number;
  latencyTest?: Hypothesis;
  throughputTest?: Hypothesis;
  verdict: Verdict;
  reasons: string[];
}

export interface Comparison {
  rows: ComparisonRow[];
  regressions: number;
  improvements: number;
  notComparable: number;
  /** Rows that were judged (same, better or regression). */
  judged: number;
  verdict: 'regression' | 'no-regression' | 'inconclusive';
  repetitions: { baseline: number; candidate: number };
  thresholds: Thresholds;
  /** Component deltas, when both sides were profiled (`run --profile`); informative, not part of the verdict. */
  profiles?: ProfileComparison;
  /** Tests in the family whose false-discovery rate is held at alpha. */
  tests: number;
  noise?: { runs: number; server: string; createdAt: string; platform: string };
}

export function compareRuns(baseline: readonly RunSummary[], candidate: readonly RunSummary[], thresholds: Thresholds = DEFAULT_THRESHOLDS, noise?: NoiseFile): Comparison {
  const b = collectRows(baseline);
  const c = collectRows(candidate);
  const index = noise && new NoiseIndex(noise);
  const repetitionMode = baseline.length >= MIN_REPETITIONS_FOR_TEST && candidate.length >= MIN_REPETITIONS_FOR_TEST;
  const rows = [...new Set([...b.keys(), ...c.keys()])].map((k) => measureRow(b.get(k), c.get(k), repetitionMode, index, thresholds));
  const tests = adjust(rows);
  for (const row of rows) if (row.verdict === 'same') judge(row, thresholds, tests);
  rows.sort((x, y) => x.step - y.step || x.phase.localeCompare(y.phase) || x.op.localeCompare(y.op));
  const count = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  const regressions = count('regression');
  const judged = regressions + count('improvement') + count('same');
  const profiles = compareProfiles(baseline, candidate);
  return {
    rows,
    regressions,
    improvements: count('improvement'),
    notComparable: count('not-comparable'),
    judged,
    verdict: regressions > 0 ? 'regression' : judged === 0 ? 'inconclusive' : 'no-regression',
    repetitions: { baseline: baseline.length, candidate: candidate.length },
    thresholds,
    tests,
    ...(noise ? { noise: { runs: noise.runs, server: noise.server, createdAt: noise.createdAt, platform: noise.machine.platform } } : {}),
    ...(profiles ? { profiles } : {}),
  };
}

function sideStats(reps: readonly Rep[], all: number, stat: Statistic | undefined): SideStats {
  const errorsOf = (r: Rep) => Object.entries(r.op.errors).filter(([cls]) => cls !== 'http-429').reduce((a, [, n]) => a + n, 0);
  const med = (f: (r: Rep) => number) => (reps.length ? median(reps.map(f)) : 0);
  return {
    p50: med((r) => r.op.latencyMs.p50),
    p90: med((r) => r.op.latencyMs.p90),
    p99: med((r) => r.op.latencyMs.p99),
    throughput: med((r) => r.op.throughput),
    errorRate: med((r) => (r.op.count === 0 ? 0 : errorsOf(r) / r.op.count)),
    count: Math.round(med((r) => r.op.count)),
    samples: reps.length ? Math.min(...reps.map((r) => r.op.ok)) : 0,
    errorClasses: [...new Set(reps.flatMap((r) => Object.keys(r.op.errors)))].sort(),
    errorRepetitions: reps.reduce<Record<string, number>>((acc, r) => {
      for (const cls of Object.keys(r.op.errors)) acc[cls] = (acc[cls] ?? 0) + 1;
      return acc;
    }, {}),
    repetitions: reps.length,
    saturated: all - reps.length,
    values: stat ? reps.map((r) => r.op.latencyMs[stat]) : [],
    throughputs: reps.map((r) => r.op.throughput),
  };
}

/** Both sides' figures, the tests' raw p-values, and the verdicts that need no test (not comparable, errors). */
function measureRow(be: RowReps | undefined, ce: RowReps | undefined, repetitionMode: boolean, noise: NoiseIndex | undefined, thresholds: Thresholds): ComparisonRow {
  const any = (be ?? ce)!;
  const row: ComparisonRow = { step: any.step, level: any.level, phase: any.phase, op: any.op, verdict: 'same', reasons: [] };
  if (!be || !ce) {
    row.verdict = be ? 'only-baseline' : 'only-candidate';
    const only = (be ?? ce)!;
    const stats = sideStats(unsaturated(only.reps), only.reps.length, undefined);
    if (be) row.baseline = stats;
    else row.candidate = stats;
    return row;
  }
  const bu = unsaturated(be.reps);
  const cu = unsaturated(ce.reps);
  const samples = bu.length && cu.length ? Math.min(...[...bu, ...cu].map((r) => r.op.ok)) : 0;
  const stat = statisticFor(samples);
  row.statistic = stat;
  row.baseline = sideStats(bu, be.reps.length, stat);
  row.candidate = sideStats(cu, ce.reps.length, stat);
  if (notComparable(row, be, ce, bu, cu, repetitionMode, noise !== undefined)) {
    serverErrorRegression(row, be, ce, thresholds);
    return row;
  }
  if (errorRegression(row, bu, cu, thresholds)) return row;
  if (!stat) {
    row.verdict = 'not-comparable';
    row.reasons.push(samples === 0 ? 'no successful requests (empty histogram)' : `too few samples: ${samples} successful in a repetition; a p50 needs ≥ ${minSamplesFor('p50')}`);
    return row;
  }
  const bs = row.baseline;
  const cs = row.candidate;
  row.delta = bs[stat] > 0 ? (cs[stat] - bs[stat]) / bs[stat] : undefined;
  row.deltaThroughput = bs.throughput > 0 ? (cs.throughput - bs.throughput) / bs.throughput : undefined;
  const testable = repetitionMode || noise !== undefined;
  if (testable) {
    row.latencyTest = hypothesis(bs.values, cs.values, 'greater', noise?.latency(row.step, row.phase, row.op, stat), thresholds.alpha);
    if (serverPaced(be.reps[0]!.phase) && bs.throughputs.every((t) => t > 0) && cs.throughputs.every((t) => t > 0)) {
      row.throughputTest = hypothesis(bs.throughputs, cs.throughputs, 'less', noise?.throughput(row.step, row.phase, row.op), thresholds.alpha);
    }
  }
  return row;
}

function notComparable(row: ComparisonRow, be: RowReps, ce: RowReps, bu: Rep[], cu: Rep[], repetitionMode: boolean, withNoise: boolean): boolean {
  const sides = [
    { name: 'baseline', all: be.reps, used: bu },
    { name: 'candidate', all: ce.reps, used: cu },
  ];
  for (const s of sides) {
    const saturated = s.all.length - s.used.length;
    const tooFew = s.used.length === 0 || (repetitionMode && !withNoise && s.used.length < MIN_REPETITIONS_LEFT);
    if (saturated > 0 && tooFew) {
      row.verdict = 'not-comparable';
      row.reasons.push(`harness saturated in ${saturated} of ${s.all.length} ${s.name} repetitions (${saturationCause(s.all)})`);
    }
  }
  return row.verdict === 'not-comparable';
}

/**
 * Errors that make a regression: a class the baseline never had, in at least
 * half of the candidate's repetitions (one stray timeout in one run is
 * noise), or an error rate (429 apart) up by more than the threshold. The
 * reasons, empty when there is none.
 */
function errorReasons(bReps: readonly Rep[], cReps: readonly Rep[], thresholds: Thresholds, counts: (cls: string) => boolean = () => true): string[] {
  const classReps = (reps: readonly Rep[]) => {
    const n = new Map<string, number>();
    for (const r of reps) for (const cls of Object.keys(r.op.errors)) if (counts(cls)) n.set(cls, (n.get(cls) ?? 0) + 1);
    return n;
  };
  const rate = (reps: readonly Rep[]) =>
    reps.length === 0
      ? 0
      : median(reps.map((r) => (r.op.count === 0 ? 0 : Object.entries(r.op.errors).reduce((a, [cls, k]) => a + (cls !== 'http-429' && counts(cls) ? k : 0), 0) / r.op.count)));
  const inBaseline = classReps(bReps);
  const newErrors = [...classReps(cReps)].filter(([cls, n]) => !inBaseline.has(cls) && n * 2 >= cReps.length).map(([cls]) => cls).sort();
  const [br, cr] = [rate(bReps), rate(cReps)];
  const reasons: string[] = [];
  if (newErrors.length > 0) reasons.push(`new error class ${newErrors.join(', ')}`);
  if (cr - br > thresholds.errorRate) reasons.push(`error rate ${(br * 100).toFixed(1)}% → ${(cr * 100).toFixed(1)}%`);
  return reasons;
}

function errorRegression(row: ComparisonRow, bReps: readonly Rep[], cReps: readonly Rep[], thresholds: Thresholds): boolean {
  const reasons = errorReasons(bReps, cReps, thresholds);
  if (reasons.length === 0) return false;
  row.reasons.push(...reasons);
  row.verdict = 'regression';
  return true;
}

/**
 * A row not comparable for a saturated harness still regresses on errors the
 * server answered (`http-<code>`), counted over every repetition: a busy
 * client distorts latencies and can cause its own timeouts and dropped
 * arrivals, but cannot make the server answer 429 or 500.
 */
function serverErrorRegression(row: ComparisonRow, be: RowReps, ce: RowReps, thresholds: Thresholds): void {
  const reasons = errorReasons(be.reps, ce.reps, thresholds, (cls) => /^http-\d+$/.test(cls));
  if (reasons.length === 0) return;
  row.reasons = [...reasons, `latency not judged: ${row.reasons.join('; ')}`];
  row.verdict = 'regression';
}

function hypothesis(a: readonly number[], b: readonly number[], worse: Direction, noise: NoiseVariance | undefined, alpha: number): Hypothesis | undefined {
  const better: Direction = worse === 'greater' ? 'less' : 'greater';
  const la = logOf(a);
  const lb = logOf(b);
  const tw = tTest(la, lb, worse, noise);
  const tb = tTest(la, lb, better, noise);
  if (!tw || !tb) return undefined;
  const ranks = a.length >= MIN_REPETITIONS_FOR_TEST && b.length >= MIN_REPETITIONS_FOR_TEST;
  return {
    pWorse: tw.p,
    pBetter: tb.p,
    ...(ranks ? { mannWhitneyWorse: mannWhitneyU(a, b, worse), mannWhitneyBetter: mannWhitneyU(a, b, better) } : {}),
    detectable: 0,
    ...(noise ? { noiseBand: criticalChange(Math.sqrt(noise.variance * (1 / a.length + 1 / b.length)), noise.dof, alpha) } : {}),
    test: noise ? 'pooled-noise' : 'student',
    se: tw.se,
    dof: tw.dof,
  };
}

/** Benjamini-Hochberg over every test of the comparison (each direction its own family); returns the family's size. */
function adjust(rows: readonly ComparisonRow[]): number {
  const hyps = rows.flatMap((r) => [r.latencyTest, r.throughputTest]).filter((h): h is Hypothesis => h !== undefined);
  const qWorse = benjaminiHochberg(hyps.map((h) => h.pWorse));
  const qBetter = benjaminiHochberg(hyps.map((h) => h.pBetter));
  hyps.forEach((h, i) => {
    h.qWorse = qWorse[i]!;
    h.qBetter = qBetter[i]!;
  });
  return hyps.length;
}

/** Latency and throughput verdicts of a row that is comparable and has no error regression. */
function judge(row: ComparisonRow, t: Thresholds, tests: number): void {
  const stat = row.statistic!;
  const bs = row.baseline!;
  const cs = row.candidate!;
  const lt = row.latencyTest;
  const tt = row.throughputTest;
  for (const h of [lt, tt]) if (h) h.detectable = Math.max(criticalChange(h.se, h.dof, t.alpha / Math.max(tests, 1)), 0);
  const pct = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(0)}%`;
  const up = row.delta !== undefined && row.delta > t.p99 && cs[stat] - bs[stat] > t.p99FloorMs;
  const down = row.delta !== undefined && row.delta < -t.p99 && bs[stat] - cs[stat] > t.p99FloorMs;
  const tputDown = tt !== undefined && row.deltaThroughput !== undefined && row.deltaThroughput < -t.throughput;
  const latencyWorse = up && whyNot(lt, 'worse', row.delta!, t.alpha) === '';
  const tputWorse = tputDown && whyNot(tt, 'worse', row.deltaThroughput!, t.alpha) === '';
  if (up) row.reasons.push(`${stat} ${pct(row.delta!)}${latencyWorse ? '' : ` but ${whyNot(lt, 'worse', row.delta!, t.alpha)}`}`);
  if (tputDown) row.reasons.push(`throughput ${pct(row.deltaThroughput!)}${tputWorse ? '' : ` but ${whyNot(tt, 'worse', row.deltaThroughput!, t.alpha)}`}`);
  if (latencyWorse || tputWorse) row.verdict = 'regression';
  else if (down && whyNot(lt, 'better', row.delta!, t.alpha) === '') {
    row.verdict = 'improvement';
    row.reasons.push(`${stat} ${pct(row.delta!)}`);
  }
}

/**
 * Why a change past the thresholds is not called: not significant after the
 * correction, repetitions overlap, or within the calibrated noise ('' when it
 * is called; without a test, thresholds decide alone). `change` is the signed
 * relative change, compared with the noise band on log scale.
 */
function whyNot(h: Hypothesis | undefined, side: 'worse' | 'better', change: number, alpha: number): string {
  if (!h) return '';
  const q = side === 'worse' ? h.qWorse! : h.qBetter!;
  const mw = side === 'worse' ? h.mannWhitneyWorse : h.mannWhitneyBetter;
  if (q > alpha) return `not significant (q=${q.toFixed(3)})`;
  if (mw !== undefined && mw > alpha) return `repetitions overlap (Mann-Whitney p=${mw.toFixed(3)})`;
  if (h.noiseBand !== undefined && Math.abs(Math.log1p(change)) <= Math.log1p(h.noiseBand)) return `within the calibrated noise (±${(h.noiseBand * 100).toFixed(0)}%)`;
  return '';
}
