import { describe, expect, it } from 'vitest';
import { compareRuns, DEFAULT_THRESHOLDS, type Comparison, type ComparisonRow } from '../../src/compare/compare.js';
import { buildNoise } from '../../src/compare/noise.js';
import { makeRun, repsOf, repsOfRows, type RowSpec } from './fixtures.js';

const list = { phase: 'list-cache', op: 'list.cache' } as const;
const row = (c: Comparison, op = 'list.cache'): ComparisonRow => c.rows.find((r) => r.op === op)!;
/** Six rows of a read probe: what an A/A run of a small scenario looks like. */
const OPS = ['list.cache', 'list.quorum', 'get.cache', 'get.quorum', 'create.objects', 'discovery.aggregated'];
const meta = { scenario: { name: 's', sha256: 'x' }, server: 'v1.37.2', machine: { cores: 2, memoryBytes: 1, platform: 'linux-x64' }, createdAt: '2026-11-29T00:00:00Z' };

describe('compareRuns: the A/A path', () => {
  it('finds no regression between repetitions of the same build that differ by noise', () => {
    // ±15% run-to-run, interleaved the way identical builds differ.
    const jitter = [[10, 11.5, 9], [10.5, 9.2, 11.1]];
    const side = (k: number) => repsOfRows(OPS.map((op, i) => ({ spec: { phase: op.split('.')[0]!, op, throughput: 200 + i }, p99s: jitter[k]!.map((v) => v * (i + 1)) })));
    const c = compareRuns(side(0), side(1));
    expect(c.verdict).toBe('no-regression');
    expect(c.regressions).toBe(0);
    expect(c.judged).toBe(6);
    // Latency and throughput of each duration-bound closed phase: 12 tests in the family.
    expect(c.tests).toBe(12);
    for (const r of c.rows) expect(r.verdict).toBe('same');
  });

  it('identical runs on both sides: same everywhere, q = 1', () => {
    const runs = repsOf(list, [5, 5, 5]);
    const c = compareRuns(runs, runs);
    expect(row(c).verdict).toBe('same');
    expect(row(c).latencyTest!.qWorse).toBeGreaterThan(0.4);
  });
});

describe('compareRuns: regressions with repetitions', () => {
  it('calls a consistent doubling of p99 a regression and names it, with its q-value', () => {
    const c = compareRuns(repsOf(list, [5, 5.3, 4.8]), repsOf(list, [10.2, 9.7, 11]));
    expect(c.verdict).toBe('regression');
    const r = row(c);
    expect(r.verdict).toBe('regression');
    expect(r.statistic).toBe('p99');
    expect(r.delta).toBeCloseTo(10.2 / 5 - 1, 6);
    expect(r.reasons[0]).toMatch(/^p99 \+104%$/);
    expect(r.latencyTest!.qWorse).toBeLessThan(0.05);
    expect(r.latencyTest!.mannWhitneyWorse).toBeCloseTo(0.05, 10);
  });

  it('does not call a change whose repetitions overlap, and says why', () => {
    const c = compareRuns(repsOf(list, [5, 9, 4]), repsOf(list, [10, 6, 11]));
    const r = row(c);
    expect(r.verdict).toBe('same');
    expect(r.reasons[0]).toMatch(/^p99 \+\d+% but (not significant \(q=0\.\d+\)|repetitions overlap \(Mann-Whitney p=0\.\d+\))$/);
  });

  it('holds the thresholds: a consistent +8% is not a regression at 10%, is at 5%; the floor keeps sub-millisecond changes out', () => {
    const base = repsOf(list, [20, 20.1, 19.9]);
    const cand = repsOf(list, [21.6, 21.7, 21.5]);
    expect(row(compareRuns(base, cand)).verdict).toBe('same');
    expect(row(compareRuns(base, cand, { ...DEFAULT_THRESHOLDS, p99: 0.05 })).verdict).toBe('regression');
    // +50% but 0.25 ms: under the 1 ms floor.
    const small = compareRuns(repsOf(list, [0.5, 0.5, 0.5]), repsOf(list, [0.75, 0.75, 0.75]));
    expect(row(small).verdict).toBe('same');
    expect(row(compareRuns(repsOf(list, [0.5, 0.5, 0.5]), repsOf(list, [0.75, 0.75, 0.75]), { ...DEFAULT_THRESHOLDS, p99FloorMs: 0.1 })).verdict).toBe('regression');
  });

  it('controls the false-discovery rate: a p-value that passes alone does not pass among 20 rows of noise', () => {
    const lone = { base: [10, 11, 12], cand: [12.5, 13.5, 14.5] };
    const alone = compareRuns(repsOf(list, lone.base), repsOf(list, lone.cand));
    const raw = row(alone).latencyTest!.pWorse;
    expect(raw).toBeLessThan(0.05);
    expect(row(alone).verdict).toBe('regression');

    const noise = Array.from({ length: 19 }, (_, i) => ({ spec: { phase: `p${i}`, op: `op${i}` }, p99s: [10, 11, 12] }));
    const many = compareRuns(
      repsOfRows([{ spec: list, p99s: lone.base }, ...noise]),
      repsOfRows([{ spec: list, p99s: lone.cand }, ...noise.map((n) => ({ ...n, p99s: [11, 12, 10] }))]),
    );
    const r = row(many);
    expect(r.latencyTest!.pWorse).toBeCloseTo(raw, 10);
    expect(r.latencyTest!.qWorse).toBeGreaterThan(0.05);
    expect(r.verdict).toBe('same');
    expect(r.reasons[0]).toMatch(/not significant \(q=/);
    expect(many.verdict).toBe('no-regression');
  });

  it('judges throughput of duration-bound closed phases only', () => {
    const tput = (values: number[], spec: Partial<RowSpec> = {}) => repsOf({ ...list, ...spec }, [5, 5, 5], (i) => ({ throughput: values[i]! }));
    const c = compareRuns(tput([200, 205, 198]), tput([140, 138, 142]));
    expect(row(c).verdict).toBe('regression');
    expect(row(c).reasons).toContain('throughput -30%');
    const iterations = compareRuns(tput([200, 205, 198], { limit: 'iterations' }), tput([140, 138, 142], { limit: 'iterations' }));
    expect(row(iterations).verdict).toBe('same');
    expect(row(iterations).throughputTest).toBeUndefined();
    const open = compareRuns(tput([200, 205, 198], { model: 'open' }), tput([140, 138, 142], { model: 'open' }));
    expect(row(open).verdict).toBe('same');
  });

  it('calls a consistent improvement better', () => {
    const c = compareRuns(repsOf(list, [10, 10.5, 9.8]), repsOf(list, [5, 5.2, 4.9]));
    expect(row(c).verdict).toBe('improvement');
    expect(c.improvements).toBe(1);
    expect(c.verdict).toBe('no-regression');
  });
});

describe('compareRuns: errors', () => {
  it('calls a new error class in at least half the candidate repetitions a regression, not a stray one', () => {
    const base = repsOf(list, [5, 5, 5]);
    const widespread = compareRuns(base, repsOf(list, [5, 5, 5], (i) => (i < 2 ? { errors: { 'http-500': 1 } } : {})));
    expect(row(widespread).verdict).toBe('regression');
    expect(row(widespread).reasons).toContain('new error class http-500');
    const stray = compareRuns(base, repsOf(list, [5, 5, 5], (i) => (i === 0 ? { errors: { timeout: 1 } } : {})));
    expect(row(stray).verdict).toBe('same');
  });

  it('calls an error rate up by more than the threshold a regression (429s apart)', () => {
    const base = repsOf(list, [5, 5, 5], () => ({ errors: { 'http-500': 2 } }));
    const c = compareRuns(base, repsOf(list, [5, 5, 5], () => ({ errors: { 'http-500': 100 } })));
    expect(row(c).reasons[0]).toMatch(/^error rate 0\.1% → 4\.8%$/);
    expect(row(c).verdict).toBe('regression');
    const throttled = compareRuns(repsOf(list, [5, 5, 5], () => ({ errors: { 'http-429': 2 } })), repsOf(list, [5, 5, 5], () => ({ errors: { 'http-429': 100 } })));
    expect(row(throttled).verdict).toBe('same');
  });

  it('judges errors even when no request succeeded', () => {
    const c = compareRuns(repsOf(list, [5, 5, 5]), repsOf(list, [5, 5, 5], () => ({ ok: 0, errors: { 'http-429': 500 } })));
    expect(row(c).verdict).toBe('regression');
    expect(row(c).reasons[0]).toBe('new error class http-429');
  });
});

describe('compareRuns: rows that cannot be judged', () => {
  it('a phase that saturated the harness is not comparable, never a regression, with the reason', () => {
    const c = compareRuns(repsOf(list, [5, 5, 5]), repsOf(list, [50, 50, 50], () => ({ saturated: true, errors: { timeout: 9 } })));
    const r = row(c);
    expect(r.verdict).toBe('not-comparable');
    expect(r.reasons).toEqual(['harness saturated in 3 of 3 candidate repetitions (load thread CPU 0.97 cores (limit 0.9))']);
    expect(c.verdict).toBe('inconclusive');
    expect(c.regressions).toBe(0);
  });

  it('a saturated row still regresses on errors the server answered (http-<code>), not on client-side ones', () => {
    const base = repsOf(list, [5, 5, 5], (i) => ({ saturated: i < 2 }));
    const throttled = compareRuns(base, repsOf(list, [0, 0, 0], () => ({ saturated: true, ok: 0, errors: { 'http-429': 900 } })));
    expect(row(throttled).verdict).toBe('regression');
    expect(row(throttled).reasons[0]).toBe('new error class http-429');
    expect(row(throttled).reasons[1]).toMatch(/^latency not judged: harness saturated in 2 of 3 baseline repetitions .*; harness saturated in 3 of 3 candidate repetitions/);
    const timeouts = compareRuns(base, repsOf(list, [5, 5, 5], () => ({ saturated: true, errors: { timeout: 900, dropped: 50 } })));
    expect(row(timeouts).verdict).toBe('not-comparable');
  });

  it('leaves saturated repetitions out; with fewer than 2 left and no noise file, the row is not comparable', () => {
    const two = compareRuns(repsOf(list, [5, 5, 5], (i) => ({ saturated: i === 1 })), repsOf(list, [50, 51, 49]));
    // Two left: the t-test still runs; the Mann-Whitney check (3 per side) does not.
    expect(row(two).verdict).toBe('regression');
    expect(row(two).baseline!.repetitions).toBe(2);
    expect(row(two).latencyTest!.mannWhitneyWorse).toBeUndefined();
    const one = compareRuns(repsOf(list, [5, 5, 5], (i) => ({ saturated: i > 0 })), repsOf(list, [50, 50, 50]));
    expect(row(one).verdict).toBe('not-comparable');
    expect(row(one).reasons[0]).toMatch(/^harness saturated in 2 of 3 baseline repetitions/);
    // With a noise file the one left is judged, and the ones that saturated do not count.
    const noise = buildNoise(repsOf(list, [5, 5.5, 4.5, 5.2, 4.9]), meta);
    const judged = compareRuns(repsOf(list, [5, 500, 500], (i) => ({ saturated: i > 0 })), repsOf(list, [50, 50, 50]), DEFAULT_THRESHOLDS, noise);
    expect(row(judged).verdict).toBe('regression');
    expect(row(judged).baseline!.repetitions).toBe(1);
    expect(row(judged).baseline!.saturated).toBe(2);
    expect(row(judged).baseline!.p99).toBe(5);
  });

  it('single runs: a saturated side is not comparable', () => {
    const c = compareRuns([makeRun([{ ...list, p99: 5, saturated: true }])], [makeRun([{ ...list, p99: 15 }])]);
    expect(row(c).verdict).toBe('not-comparable');
  });

  it('judges each row on the highest percentile its samples support, and not at all below 20', () => {
    const at = (ok: number) => compareRuns(repsOf(list, [8, 8, 8], () => ({ ok })), repsOf(list, [16, 16, 16], () => ({ ok, p50: 2, p90: 4 })));
    expect(row(at(2000)).statistic).toBe('p99');
    expect(row(at(2000)).verdict).toBe('regression');
    // 500 per run: p90 (4 ms both sides), so the doubled p99 is not judged.
    expect(row(at(500)).statistic).toBe('p90');
    expect(row(at(500)).verdict).toBe('same');
    expect(row(at(99)).statistic).toBe('p50');
    expect(row(at(20)).statistic).toBe('p50');
    const few = at(19);
    expect(row(few).verdict).toBe('not-comparable');
    expect(row(few).reasons).toEqual(['too few samples: 19 successful in a repetition; a p50 needs ≥ 20']);
    expect(few.verdict).toBe('inconclusive');
  });

  it('the fewest samples of any repetition decide', () => {
    const c = compareRuns(repsOf(list, [8, 8, 8], (i) => ({ ok: i === 2 ? 999 : 5000 })), repsOf(list, [8, 8, 8]));
    expect(row(c).statistic).toBe('p90');
  });

  it('an empty histogram on both sides is not comparable', () => {
    const c = compareRuns(repsOf(list, [0, 0, 0], () => ({ ok: 0, errors: { timeout: 3 } })), repsOf(list, [0, 0, 0], () => ({ ok: 0, errors: { timeout: 3 } })));
    expect(row(c).verdict).toBe('not-comparable');
    expect(row(c).reasons).toEqual(['no successful requests (empty histogram)']);
  });

  it('rows on one side only are marked and not judged', () => {
    const c = compareRuns([makeRun([{ ...list, p99: 5 }])], [makeRun([{ phase: 'get', op: 'get.quorum', p99: 5 }])]);
    expect(c.rows.map((r) => r.verdict).sort()).toEqual(['only-baseline', 'only-candidate']);
    expect(c.verdict).toBe('inconclusive');
  });
});

describe('compareRuns: the one-vs-one path', () => {
  it('without a noise file, thresholds decide alone and no test runs', () => {
    const worse = compareRuns([makeRun([{ ...list, p99: 10 }])], [makeRun([{ ...list, p99: 15 }])]);
    expect(worse.tests).toBe(0);
    expect(row(worse).latencyTest).toBeUndefined();
    expect(row(worse).verdict).toBe('regression');
    expect(row(compareRuns([makeRun([{ ...list, p99: 10 }])], [makeRun([{ ...list, p99: 10.5 }])])).verdict).toBe('same');
  });

  it('with a noise file, the calibrated spread decides: a change inside it is not called, one far beyond it is', () => {
    const quiet = buildNoise(repsOf(list, [10, 10.2, 9.9, 10.1, 9.8, 10]), meta);
    const loud = buildNoise(repsOf(list, [10, 16, 6, 13, 8, 11]), meta);
    const one = (p99: number) => [makeRun([{ ...list, p99 }])];
    const calm = compareRuns(one(10), one(13), DEFAULT_THRESHOLDS, quiet);
    expect(calm.tests).toBe(2);
    expect(row(calm).latencyTest!.test).toBe('pooled-noise');
    expect(row(calm).verdict).toBe('regression');
    const noisy = compareRuns(one(10), one(13), DEFAULT_THRESHOLDS, loud);
    expect(row(noisy).verdict).toBe('same');
    expect(row(noisy).reasons[0]).toMatch(/^p99 \+30% but (not significant|within the calibrated noise)/);
    expect(row(noisy).latencyTest!.noiseBand!).toBeGreaterThan(0.3);
    expect(noisy.noise).toEqual({ runs: 6, server: 'v1.37.2', createdAt: meta.createdAt, platform: 'linux-x64' });
  });

  it('with repetitions and a noise file, the test pools both and can detect smaller changes', () => {
    const noise = buildNoise(repsOf(list, [10, 10.4, 9.7, 10.2, 9.9, 10.1, 9.8, 10.3]), meta);
    const base = repsOf(list, [10, 10.3, 9.8]);
    const cand = repsOf(list, [11.4, 11.7, 11.2]);
    const without = compareRuns(base, cand);
    const withNoise = compareRuns(base, cand, DEFAULT_THRESHOLDS, noise);
    expect(withNoise.rows[0]!.latencyTest!.dof).toBe(7 + 2 + 2);
    expect(withNoise.rows[0]!.latencyTest!.detectable).toBeLessThan(without.rows[0]!.latencyTest!.detectable);
    expect(row(withNoise).verdict).toBe('regression');
  });
});

describe('compareRuns: error rates by simulation (seeded)', () => {
  /** mulberry32 + Box-Muller: reproducible log-normal noise. */
  function noise(seed: number): () => number {
    let a = seed >>> 0;
    const uniform = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  const rows = 10;
  const side = (gauss: () => number, sd: number, factor: (row: number) => number) =>
    repsOfRows(Array.from({ length: rows }, (_, r) => ({ spec: { phase: `p${r}`, op: `op${r}`, limit: 'iterations' as const }, p99s: [0, 1, 2].map(() => 20 * factor(r) * Math.exp(sd * gauss())) })));

  it('A/A: at most about α of comparisons call any regression when nothing changed (10 rows, ±30% noise)', () => {
    const gauss = noise(42);
    const trials = 400;
    let red = 0;
    for (let i = 0; i < trials; i++) if (compareRuns(side(gauss, 0.3, () => 1), side(gauss, 0.3, () => 1)).verdict === 'regression') red++;
    // Benjamini-Hochberg holds the family-wise rate at α = 0.05 when every null is true; the Mann-Whitney check and thresholds only lower it.
    if (process.env.DBG) console.log(`SIM A/A red=${red / trials}`);
    expect(red / trials).toBeLessThanOrEqual(0.05);
  });

  it('A/B: a tripling of 2 rows out of 10 turns the gate red nearly always, and the false-discovery rate stays near α (±20% noise)', () => {
    const gauss = noise(7);
    const trials = 200;
    let caught = 0;
    let red = 0;
    let fdp = 0;
    for (let i = 0; i < trials; i++) {
      const c = compareRuns(side(gauss, 0.2, () => 1), side(gauss, 0.2, (r) => (r < 2 ? 3 : 1)));
      const called = c.rows.filter((r) => r.verdict === 'regression').map((r) => r.op);
      if (called.includes('op0') && called.includes('op1')) caught++;
      if (called.includes('op0') || called.includes('op1')) red++;
      if (called.length > 0) fdp += called.filter((op) => op !== 'op0' && op !== 'op1').length / called.length;
    }
    // The gate turns red on a real change; both changed rows are named in most runs.
    if (process.env.DBG) console.log(`SIM A/B red=${red / trials} both=${caught / trials} fdr=${fdp / trials}`);
    expect(red / trials).toBeGreaterThanOrEqual(0.97);
    expect(caught / trials).toBeGreaterThanOrEqual(0.85);
    // Benjamini-Hochberg bounds the expected share of false calls among the calls by α · m0/m = 0.04; 200 trials leave some slack.
    expect(fdp / trials).toBeLessThanOrEqual(0.08);
  });
});
