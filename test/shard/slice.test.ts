/**
 * Scenario slicing for `run --shard i/N`: shares add up to the unsharded
 * totals for every N (also when a count is smaller than N), loads are
 * divided, the input is untouched, and every shard still compiles to a plan.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile, parseScenario } from '../../src/scenarios/parse.js';
import { compilePlan, estimatePlan } from '../../src/scenarios/plan.js';
import { parseRatePerSecond, type PhaseDoc, type ScenarioDoc } from '../../src/scenarios/schema.js';
import { divideRate, shareOf, sliceScenario, UnsplittableError } from '../../src/shard/slice.js';
import { UsageError } from '../../src/types/errors.js';

const SCENARIO = `
version: 1
name: shard-me
seed: 7
generate:
  crds: { count: 50, groups: 5 }
  objects: { perCRD: 3, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 7 }
  - { name: create, op: create, of: objects, concurrency: 8 }
  - { name: extra, op: create, of: objects, concurrency: 2, repeat: 2 }
  - { name: list, op: list, consistency: quorum, concurrency: 4, repeat: 41 }
  - { name: get, op: get, rate: 300/s, maxInFlight: 10, repeat: 100 }
  - { name: patch, op: patch, of: objects, rate: { from: 10/s, to: 100/m }, duration: 2s }
  - { name: watch, op: watch, watchers: 11, during: patch }
  - { name: discovery, op: discovery, repeat: 1 }
  - { name: mix, op: mix, concurrency: 1, repeat: 5, mix: [{ op: get, weight: 2 }, { op: list }] }
`;

const doc = parseScenario(SCENARIO, 'shard-me.yaml');
const phase = (d: ScenarioDoc, name: string) => d.phases.find((p) => p.name === name)! as PhaseDoc & Record<string, unknown>;
const shards = (d: ScenarioDoc, n: number) => Array.from({ length: n }, (_, k) => sliceScenario(d, k + 1, n));
const total = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('shareOf', () => {
  it('splits n over N shards into floor/ceil shares that add up to n, for many n and N (also n < N)', () => {
    for (let n = 0; n <= 60; n++) {
      for (let N = 1; N <= 17; N++) {
        const shares = Array.from({ length: N }, (_, k) => shareOf(n, k + 1, N));
        expect(total(shares), `${n} over ${N}`).toBe(n);
        for (const s of shares) expect([Math.floor(n / N), Math.ceil(n / N)]).toContain(s);
        // Earlier shards take the remainder.
        expect([...shares].sort((a, b) => b - a)).toEqual(shares);
      }
    }
  });

  it('is monotone in n, so ascending step levels stay ascending (or equal) in every shard', () => {
    for (let N = 1; N <= 9; N++) for (let i = 1; i <= N; i++) for (let n = 0; n < 100; n++) expect(shareOf(n + 1, i, N)).toBeGreaterThanOrEqual(shareOf(n, i, N));
  });
});

describe('sliceScenario', () => {
  it('shard 1/1 is the scenario itself', () => {
    expect(sliceScenario(doc, 1, 1)).toEqual(doc);
  });

  it('returns a new frozen document and leaves the input untouched', () => {
    const before = JSON.stringify(doc);
    const s = sliceScenario(doc, 2, 3);
    expect(s).not.toBe(doc);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.phases[0])).toBe(true);
    expect(JSON.stringify(doc)).toBe(before);
  });

  it.each([1, 2, 3, 4, 7, 10, 50])('over %i shards: CRDs, objects, repeats and watchers add up to the totals', (n) => {
    const parts = shards(doc, n);
    expect(total(parts.map((p) => p.generate.crds!.count))).toBe(50);
    // perCRD objects for each of a shard's CRDs: objects add up too.
    for (const p of parts) expect(p.generate.objects).toEqual(doc.generate.objects);
    const objects = parts.map((p) => estimatePlan(compilePlan(p)).objectsCreated);
    expect(total(objects)).toBe(estimatePlan(compilePlan(doc)).objectsCreated);
    expect(total(parts.map((p) => estimatePlan(compilePlan(p)).crdsCreated))).toBe(50);
    for (const name of ['extra', 'list', 'get', 'discovery', 'mix']) {
      expect(total(parts.map((p) => phase(p, name).repeat as number)), name).toBe(phase(doc, name).repeat);
    }
    expect(total(parts.map((p) => phase(p, 'watch').watchers as number))).toBe(11);
    // Groups are split too (at least one per shard, never more than its CRDs).
    for (const p of parts) expect(p.generate.crds!.groups).toBeLessThanOrEqual(p.generate.crds!.count);
    if (n <= 5) expect(total(parts.map((p) => p.generate.crds!.groups))).toBe(5);
  });

  it('divides open-model rates (and ramps) by N, closed-model concurrency by N (at least 1)', () => {
    for (const n of [1, 2, 3, 4, 6, 8, 9, 16]) {
      const parts = shards(doc, n);
      const rate = (p: ScenarioDoc) => parseRatePerSecond(phase(p, 'get').rate as string);
      expect(total(parts.map(rate))).toBeCloseTo(300, 6);
      for (const p of parts) expect(rate(p)).toBeCloseTo(300 / n, 6);
      const ramp = (p: ScenarioDoc) => phase(p, 'patch').rate as { from: string; to: string };
      expect(total(parts.map((p) => parseRatePerSecond(ramp(p).from)))).toBeCloseTo(10, 6);
      expect(total(parts.map((p) => parseRatePerSecond(ramp(p).to)))).toBeCloseTo(100 / 60, 6);
      // Durations stay: the shards run side by side for as long as the unsharded run.
      for (const p of parts) expect(phase(p, 'patch').duration).toBe('2s');
      const conc = parts.map((p) => phase(p, 'list').concurrency as number);
      expect(total(conc)).toBe(Math.max(4, n));
      for (const c of conc) expect(c).toBeGreaterThanOrEqual(1);
      expect(total(parts.map((p) => phase(p, 'install').concurrency as number))).toBe(Math.max(7, n));
      expect(parts.map((p) => phase(p, 'mix').concurrency)).toEqual(parts.map(() => 1));
      expect(total(parts.map((p) => phase(p, 'get').maxInFlight as number))).toBe(Math.max(10, n));
      // Every shard compiles, with the divided load in its plan.
      for (const p of parts) {
        const plan = compilePlan(p);
        const get = plan.phases.find((x) => x.name === 'get')!;
        expect(get.load.model === 'open' && get.load.ratePerSecond).toBeCloseTo(300 / n, 6);
      }
    }
  });

  it('repeat and watcher counts smaller than N give some shards 0', () => {
    const parts = shards(doc, 16);
    expect(parts.map((p) => phase(p, 'discovery').repeat)).toEqual([1, ...Array(15).fill(0)]);
    expect(parts.map((p) => phase(p, 'extra').repeat)).toEqual([1, 1, ...Array(14).fill(0)]);
    expect(total(parts.map((p) => phase(p, 'watch').watchers as number))).toBe(11);
    expect(parts.filter((p) => phase(p, 'watch').watchers === 0)).toHaveLength(5);
  });

  it('scales the levels of a CRD sweep so every step adds up', () => {
    const swept = parseScenario(
      `
version: 1
name: sweep
generate: { crds: { count: 100 } }
steps: { by: crds, at: [10, 35, 100] }
phases:
  - { name: install, op: create, of: crds, concurrency: 4 }
  - { name: discovery, op: discovery, repeat: 7 }
`,
      'sweep.yaml',
    );
    for (const n of [1, 2, 3, 7, 10]) {
      const parts = shards(swept, n);
      for (let k = 0; k < 3; k++) expect(total(parts.map((p) => p.steps!.at[k]!)), `step ${k} over ${n}`).toBe(swept.steps!.at[k]);
      for (const p of parts) {
        const plan = compilePlan(p);
        expect(plan.steps.map((s) => s.crds)).toEqual(p.steps!.at);
        expect(total(estimatePlan(plan).rows.filter((r) => r.phase === 'install').map((r) => r.creates))).toBe(p.steps!.at[2]);
      }
      expect(total(parts.map((p) => estimatePlan(compilePlan(p)).crdsCreated))).toBe(100);
    }
  });

  it('divides rate and concurrency sweeps', () => {
    const rateSweep = parseScenario(
      `
version: 1
name: rates
generate: { crds: { count: 4 } }
steps: { by: rate, at: [30, 90] }
phases:
  - { name: install, op: create, of: crds, concurrency: 4 }
  - { name: discovery, op: discovery, duration: 1s }
`,
      'rates.yaml',
    );
    const parts = shards(rateSweep, 4);
    expect(parts.map((p) => p.steps!.at)).toEqual(parts.map(() => [7.5, 22.5]));
    const concSweep = parseScenario(SCENARIO_CONC, 'conc.yaml');
    const cparts = shards(concSweep, 3);
    expect(cparts.map((p) => p.steps!.at)).toEqual([[1, 4], [1, 3], [1, 3]]);
  });

  it('refuses to give a shard no CRDs', () => {
    const small = parseScenario(SCENARIO.replace('count: 50, groups: 5', 'count: 2, groups: 1'), 'small.yaml');
    expect(() => sliceScenario(small, 1, 3)).toThrow(UsageError);
    // The refusal carries the facts, not a flag: the CLI words it for --shard, --threads or --workers.
    expect(() => sliceScenario(small, 1, 3)).toThrow(expect.objectContaining({ crds: 2, slices: 3 }));
    expect(() => sliceScenario(small, 1, 3)).toThrow(UnsplittableError);
    expect(() => sliceScenario(small, 1, 3)).not.toThrow(/--/);
    expect(() => sliceScenario(small, 0, 3)).toThrow(RangeError);
    expect(sliceScenario(small, 2, 2).generate.crds!.count).toBe(1);
  });

  it('slices every shipped scenario into shards that still compile', async () => {
    for (const f of readdirSync('scenarios').filter((x) => x.endsWith('.yaml'))) {
      const loaded = await loadScenarioFile(`scenarios/${f}`);
      for (const n of [2, 3]) for (const p of shards(loaded.doc, n)) expect(() => estimatePlan(compilePlan(p)), f).not.toThrow();
    }
  });

  it('writes divided rates in the scenario syntax (no exponent)', () => {
    expect(divideRate('200/s', 3)).toMatch(/^\d+(\.\d+)?\/s$/);
    expect(divideRate('1/m', 7)).toBe('0.142857143/m');
    expect(divideRate('90/s', 2)).toBe('45/s');
  });
});

const SCENARIO_CONC = `
version: 1
name: conc
generate: { crds: { count: 4 } }
steps: { by: concurrency, at: [1, 10] }
phases:
  - { name: install, op: create, of: crds, concurrency: 4 }
  - { name: discovery, op: discovery, duration: 1s }
`;
