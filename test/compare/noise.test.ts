import { describe, expect, it } from 'vitest';
import { buildNoise, detectableChange, NoiseIndex, parseNoise } from '../../src/compare/noise.js';
import { variance } from '../../src/compare/stats.js';
import { UsageError } from '../../src/types/errors.js';
import { repsOf, repsOfRows } from './fixtures.js';

const meta = { scenario: { name: 'reads-small', sha256: 'abc' }, server: 'v1.37.2', machine: { cores: 2, memoryBytes: 1, platform: 'linux-x64' }, createdAt: '2026-11-29T00:00:00Z' };

describe('buildNoise', () => {
  it('records per row the log-variance of each percentile the samples support, and of throughput', () => {
    const runs = repsOfRows([
      { spec: { phase: 'list-cache', op: 'list.cache' }, p99s: [10, 12, 11, 9] },
      { spec: { phase: 'install', op: 'create.crds', ok: 50 }, p99s: [100, 120, 90, 110] },
    ]);
    const noise = buildNoise(runs, meta);
    expect(noise.runs).toBe(4);
    const list = noise.rows.find((r) => r.op === 'list.cache')!;
    expect(list.latency.p99!.values).toEqual([10, 12, 11, 9]);
    expect(list.latency.p99!.logVariance).toBeCloseTo(variance([10, 12, 11, 9].map(Math.log)), 12);
    expect(Object.keys(list.latency).sort()).toEqual(['p50', 'p90', 'p99']);
    // 50 samples a run: a p50 only.
    expect(Object.keys(noise.rows.find((r) => r.op === 'create.crds')!.latency)).toEqual(['p50']);
    expect(list.throughput!.logVariance).toBe(0);
  });

  it('leaves saturated runs out and says how many', () => {
    const noise = buildNoise(repsOf({ phase: 'l', op: 'list.cache' }, [10, 500, 11, 9], (i) => ({ saturated: i === 1 })), meta);
    expect(noise.rows[0]!.saturatedRuns).toBe(1);
    expect(noise.rows[0]!.latency.p99!.values).toEqual([10, 11, 9]);
  });

  it('needs two runs', () => {
    expect(() => buildNoise(repsOf({ phase: 'l', op: 'list.cache' }, [10]), meta)).toThrow(UsageError);
  });
});

describe('parseNoise', () => {
  it('round-trips a noise file and refuses anything else with a one-line message', () => {
    const noise = buildNoise(repsOf({ phase: 'l', op: 'list.cache' }, [10, 11, 12]), meta);
    expect(parseNoise(JSON.stringify(noise), 'n.json')).toEqual(noise);
    expect(() => parseNoise('{', 'n.json')).toThrow(/^n\.json: not JSON \(/);
    expect(() => parseNoise(JSON.stringify({ ...noise, kind: 'other' }), 'n.json')).toThrow(/^n\.json: not a noise file: kind: /);
    expect(() => parseNoise(JSON.stringify({ ...noise, runs: 1 }), 'n.json')).toThrow(/runs/);
  });
});

describe('NoiseIndex and detectableChange', () => {
  it('finds a row\'s variance by step, phase, operation and percentile', () => {
    const index = new NoiseIndex(buildNoise(repsOf({ phase: 'l', op: 'list.cache' }, [10, 11, 12]), meta));
    expect(index.latency(0, 'l', 'list.cache', 'p99')!.dof).toBe(2);
    expect(index.latency(0, 'l', 'list.cache', 'p99')!.variance).toBeGreaterThan(0);
    expect(index.latency(1, 'l', 'list.cache', 'p99')).toBeUndefined();
    expect(index.throughput(0, 'l', 'list.cache')!.variance).toBe(0);
  });

  it('shrinks with more repetitions and grows with the spread', () => {
    const noise = { variance: 0.01, dof: 9 };
    expect(detectableChange(noise, 5, 0.05)).toBeLessThan(detectableChange(noise, 3, 0.05));
    expect(detectableChange({ variance: 0.04, dof: 9 }, 3, 0.05)).toBeGreaterThan(detectableChange(noise, 3, 0.05));
    // σ = 0.1, 3 vs 3: se = 0.1·√(2/3), 13 dof, t₀.₉₅ = 1.771 → +15.5%.
    expect(detectableChange(noise, 3, 0.05)).toBeCloseTo(Math.expm1(1.7709 * 0.1 * Math.sqrt(2 / 3)), 3);
  });
});

describe('renderNoise', () => {
  it('says per row the spread and what a 3 vs 3 comparison with this file detects, in a sentence', async () => {
    const { renderNoise } = await import('../../src/compare/render.js');
    const runs = repsOfRows([
      { spec: { phase: 'list-cache', op: 'list.cache' }, p99s: [10, 11, 10.5, 9.5, 10.2] },
      { spec: { phase: 'install', op: 'create.crds', ok: 5 }, p99s: [100, 120, 90, 110, 95] },
    ]);
    const text = renderNoise(buildNoise(runs, meta), 3, 0.05);
    expect(text).toMatch(/^Noise of v1\.37\.2 against itself over 5 runs of reads-small on 2 cores/);
    expect(text).toMatch(/Benjamini-Hochberg level α\/m = 0\.05\/2\)/);
    expect(text).toMatch(/^\s+0\s+list-cache\s+list\.cache\s+2000\s+p99\s+5\s+±\d+\.\d%\s+≥ \d+%\s*$/m);
    expect(text).toMatch(/create\.crds\s+5\s+too few samples \(a p50 needs ≥ 20 a run\)/);
    expect(text).toMatch(/^detects p99 changes ≥ \d+% for list\.cache \(step 0 list-cache\)$/m);
  });
});
