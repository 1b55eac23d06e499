/**
 * The statistics behind a verdict: tests of "the candidate is worse" over
 * repetitions, and the control of false discoveries across a table's rows.
 * Pure functions of numbers.
 *
 * - Student's two-sample t-test on the logarithm of a per-repetition figure
 *   (p99 of run 1, run 2, ...): latency spreads multiplicatively, and the
 *   test gives small p-values from few repetitions when they agree, which the
 *   exact rank test cannot (3 vs 3 repetitions never go below p = 0.05
 *   there, too little to survive a correction over many rows).
 * - With a calibrated noise figure (the spread of the same build against
 *   itself, `asa-bench calibrate`), the same test pools that variance with the
 *   runs' own: more degrees of freedom, and one run per side can be judged.
 * - The exact one-sided Mann-Whitney U test, as a check that the sides'
 *   repetitions are consistently ordered (one outlier run cannot make a mean).
 * - Benjamini-Hochberg: of m tests, the false-discovery rate is held at q.
 */
import jstat from 'jstat';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample variance (n − 1 in the denominator); 0 for fewer than two values. */
export function variance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return values.reduce((a, v) => a + (v - m) * (v - m), 0) / (values.length - 1);
}

/**
 * Floor of a log-scale variance: HDR histograms keep 3 significant digits, so
 * repetitions that agree to that precision would otherwise have a variance of
 * 0 and make any difference infinitely significant.
 */
export const LOG_VARIANCE_FLOOR = Math.log(1.001) ** 2;

/** Natural log of latency figures; a 0 (nothing slower than the histogram's resolution) reads as 1 µs. */
export const logOf = (values: readonly number[]): number[] => values.map((v) => Math.log(Math.max(v, 0.001)));

export type Direction = 'greater' | 'less';

export interface TTest {
  /** One-sided p-value of "b is greater (or less) than a". */
  p: number;
  t: number;
  dof: number;
  /** Standard error of the difference of means. */
  se: number;
}

/** Calibrated noise of one figure: the sample variance of its logarithm between identical runs, and its degrees of freedom (runs − 1). */
export interface NoiseVariance {
  variance: number;
  dof: number;
}

/**
 * One-sided two-sample t-test of mean(b) against mean(a) (values already on
 * log scale), with one variance pooled over both sides: Student's test, whose
 * assumption (the same spread on both sides) is exactly the null hypothesis
 * of an A/A comparison, and which keeps n1 + n2 − 2 degrees of freedom where
 * Welch's would often have 2 from 3 + 3 repetitions. With `noise`, the
 * calibration's variance joins the pool with its own degrees of freedom: valid
 * from one value per side.
 */
export function tTest(a: readonly number[], b: readonly number[], direction: Direction, noise?: NoiseVariance): TTest | undefined {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return undefined;
  const noiseDof = noise?.dof ?? 0;
  const dof = noiseDof + (n1 - 1) + (n2 - 1);
  if (dof < 1) return undefined;
  const pooled = (noiseDof * (noise?.variance ?? 0) + (n1 - 1) * variance(a) + (n2 - 1) * variance(b)) / dof;
  const se = Math.sqrt(Math.max(pooled, LOG_VARIANCE_FLOOR) * (1 / n1 + 1 / n2));
  const diff = mean(b) - mean(a);
  const t = (direction === 'greater' ? diff : -diff) / se;
  return { p: 1 - jstat.jStat.studentt.cdf(t, dof), t, dof, se };
}

/**
 * The smallest relative change a one-sided test at `level` calls, given a
 * standard error `se` of the log difference: exp(t₁₋ₗₑᵥₑₗ · se) − 1.
 */
export function criticalChange(se: number, dof: number, level: number): number {
  return Math.expm1(jstat.jStat.studentt.inv(1 - level, dof) * se);
}

/**
 * Benjamini-Hochberg step-up adjusted p-values (q-values): reject every test
 * whose q ≤ the false-discovery rate wanted. Same order as the input.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => y.p - x.p);
  const q = new Array<number>(m);
  let running = 1;
  order.forEach(({ p, i }, idx) => {
    const rank = m - idx;
    running = Math.min(running, (p * m) / rank);
    q[i] = Math.min(1, running);
  });
  return q;
}

/**
 * One-sided Mann-Whitney U test: the p-value of "b tends to be larger than a"
 * (or smaller, with `direction: 'less'`). Exact (enumerating every split of
 * the pooled ranks) for the small samples that repetitions give, so 3 vs 3
 * repetitions that do not overlap at all reach p = 1/20 = 0.05; a normal
 * approximation with tie correction beyond that.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[], direction: Direction = 'greater'): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return 1;
  const pooled = [...a, ...b];
  const ranks = rankWithTies(pooled);
  // U of sample b: how often a b-value beats an a-value (ties count half).
  const uOf = (bIdx: readonly number[]) => bIdx.reduce((sum, i) => sum + ranks[i]!, 0) - (n2 * (n2 + 1)) / 2;
  const observed = uOf(b.map((_, i) => n1 + i));
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
  const meanU = (n1 * n2) / 2;
  const n = n1 + n2;
  const varU = ((n1 * n2) / 12) * (n + 1 - tieCorrection(pooled) / (n * (n - 1)));
  if (varU <= 0) return 1;
  const z = (stat(observed - meanU) - 0.5) / Math.sqrt(varU);
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
