import { describe, expect, it } from 'vitest';
import { benjaminiHochberg, criticalChange, mannWhitneyU, median, tTest, variance } from '../../src/compare/stats.js';

/**
 * Published critical values of the Mann-Whitney U statistic, one-tailed α = 0.05
 * (the standard table, e.g. Zar, Biostatistical Analysis, table B.11; Siegel &
 * Castellan): reject "no difference" when U ≤ the value. Rows n1 = 3..8, columns n2 = 3..8.
 */
const ONE_TAILED_05: Record<number, readonly number[]> = {
  3: [0, 0, 1, 2, 2, 3],
  4: [0, 1, 2, 3, 4, 5],
  5: [1, 2, 4, 5, 6, 8],
  6: [2, 3, 5, 7, 8, 10],
  7: [2, 4, 6, 8, 11, 13],
  8: [3, 5, 8, 10, 13, 15],
};
/** Two-tailed α = 0.05 (one-tailed 0.025), equal sizes n = 4..8. */
const TWO_TAILED_05: Record<number, number> = { 4: 0, 5: 2, 6: 5, 7: 8, 8: 13 };

/**
 * Samples a (1..n1) and b (above them) where exactly `u` (a, b) pairs have a > b:
 * U of "b is smaller" is `u`, so a one-sided test of "b is greater" sees U = u.
 */
function withU(n1: number, n2: number, u: number): { a: number[]; b: number[] } {
  const a = Array.from({ length: n1 }, (_, i) => i + 1);
  let left = u;
  const b = Array.from({ length: n2 }, (_, j) => {
    const below = Math.min(n1, left);
    left -= below;
    return n1 - below + 0.5 + j / 1000;
  });
  return { a, b };
}

describe('mannWhitneyU (exact)', () => {
  it('matches the published one-tailed α = 0.05 critical values', () => {
    for (const [n1s, row] of Object.entries(ONE_TAILED_05)) {
      const n1 = Number(n1s);
      row.forEach((crit, i) => {
        const n2 = i + 3;
        const at = withU(n1, n2, crit);
        const past = withU(n1, n2, crit + 1);
        expect(mannWhitneyU(at.a, at.b, 'greater'), `n1=${n1} n2=${n2} U=${crit}`).toBeLessThanOrEqual(0.05);
        expect(mannWhitneyU(past.a, past.b, 'greater'), `n1=${n1} n2=${n2} U=${crit + 1}`).toBeGreaterThan(0.05);
      });
    }
  });

  it('matches the published two-tailed α = 0.05 critical values (one side at 0.025), in the other direction too', () => {
    for (const [ns, crit] of Object.entries(TWO_TAILED_05)) {
      const n = Number(ns);
      const at = withU(n, n, crit);
      const past = withU(n, n, crit + 1);
      // Swapped roles: "a is less than b" read as "b is greater" from the other side.
      expect(mannWhitneyU(at.b, at.a, 'less')).toBeLessThanOrEqual(0.025);
      expect(mannWhitneyU(past.b, past.a, 'less')).toBeGreaterThan(0.025);
    }
  });

  it('gives 1/20 for 3 vs 3 that do not overlap, 1 for the opposite direction, and counts ties as half', () => {
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6], 'greater')).toBeCloseTo(0.05, 10);
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6], 'less')).toBe(1);
    // All six values equal: every split has the same U, so nothing is extreme.
    expect(mannWhitneyU([2, 2, 2], [2, 2, 2], 'greater')).toBe(1);
    expect(mannWhitneyU([], [1], 'greater')).toBe(1);
  });
});

describe('tTest', () => {
  it("matches R's t.test(b, a, var.equal = TRUE, alternative = 'greater')", () => {
    // R: t.test(c(4,5,6), c(1,2,3), var.equal=TRUE, alternative="greater"): t = 3.6742, df = 4, p-value = 0.01066
    const r = tTest([1, 2, 3], [4, 5, 6], 'greater')!;
    expect(r.t).toBeCloseTo(3.6742, 4);
    expect(r.dof).toBe(4);
    expect(r.p).toBeCloseTo(0.01066, 4);
    // Unequal spreads (variances 1 and 13), by hand: pooled variance (2·1 + 2·13)/4 = 7,
    // se = √(7 · 2/3), t = 4 / se, n1 + n2 − 2 = 4 degrees of freedom.
    const w = tTest([1, 2, 3], [3, 5, 10], 'greater')!;
    expect(w.t).toBeCloseTo(4 / Math.sqrt(14 / 3), 10);
    expect(w.dof).toBe(4);
    expect(tTest([1, 2, 3], [3, 5, 10], 'less')!.p).toBeCloseTo(1 - w.p, 10);
  });

  it('needs a degree of freedom without noise, takes one value per side with it; noise adds degrees of freedom', () => {
    expect(tTest([1], [2], 'greater')).toBeUndefined();
    expect(tTest([], [2, 3], 'greater')).toBeUndefined();
    const pooled = tTest([1], [2], 'greater', { variance: 0.25, dof: 9 })!;
    // se = 0.5 · √2, t = 1.414, 9 dof.
    expect(pooled.dof).toBe(9);
    expect(pooled.t).toBeCloseTo(1 / (0.5 * Math.SQRT2), 6);
    const withRuns = tTest([1, 1.2, 0.8], [2, 2.2, 1.8], 'greater', { variance: 0.04, dof: 9 })!;
    expect(withRuns.dof).toBe(13);
    expect(withRuns.p).toBeLessThan(0.0001);
  });

  it('has a variance floor: identical repetitions do not make any difference infinitely significant', () => {
    const r = tTest([1, 1, 1], [1.0001, 1.0001, 1.0001], 'greater')!;
    expect(Number.isFinite(r.t)).toBe(true);
    expect(r.p).toBeGreaterThan(0.05);
  });
});

describe('criticalChange', () => {
  it('is exp(t₀.₉₅,₄ · se) − 1 with the published t quantile 2.132', () => {
    expect(criticalChange(0.1, 4, 0.05)).toBeCloseTo(Math.expm1(2.1318 * 0.1), 4);
  });
});

describe('benjaminiHochberg', () => {
  it("matches R's p.adjust(method = 'BH')", () => {
    // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
    const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
    [0.02, 0.04, 0.04, 0.02].forEach((v, i) => expect(q[i]).toBeCloseTo(v, 10));
    expect(benjaminiHochberg([0.5, 0.9])).toEqual([0.9, 0.9]);
    expect(benjaminiHochberg([])).toEqual([]);
  });
});

describe('median and variance', () => {
  it('are the textbook ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(variance([1, 2, 3, 4])).toBeCloseTo(5 / 3, 10);
    expect(variance([7])).toBe(0);
  });
});
