/**
 * The plan's facts that travel in the result (RunInfo.plan): the sweep and the
 * normalized SLOs, and the SLO check that reads them (compare/slo.ts).
 */
import { describe, expect, it } from 'vitest';
import { evaluateSlos } from '../../src/compare/slo.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { compilePlan, planFacts, sloFacts } from '../../src/scenarios/plan.js';
import type { PhaseResult } from '../../src/types/results.js';

const SWEEP = parseScenario(
  `version: 1
name: t
generate:
  crds: { count: 10 }
steps: { by: concurrency, at: [1, 4, 16] }
phases:
  - { name: install, op: create, of: crds, concurrency: 3 }
  - { name: list, op: list, repeat: 5 }
slo: { "list.p99": 1.5s, "install.max": 250ms }
`,
  't.yaml',
);

describe('planFacts', () => {
  it('says what the steps sweep and at which levels, and normalizes the SLOs', () => {
    expect(planFacts(compilePlan(SWEEP))).toEqual({
      sweep: { by: 'concurrency', levels: [1, 4, 16] },
      slos: [
        { key: 'list.p99', phase: 'list', stat: 'p99', limit: '1.5s', limitMs: 1500 },
        { key: 'install.max', phase: 'install', stat: 'max', limit: '250ms', limitMs: 250 },
      ],
    });
  });

  it('is a CRD sweep at the CRD count when the scenario has no steps', () => {
    const single = parseScenario('version: 1\nname: s\ngenerate:\n  crds: { count: 7 }\nphases:\n  - { name: install, op: create, of: crds }\n', 's.yaml');
    expect(planFacts(compilePlan(single))).toEqual({ sweep: { by: 'crds', levels: [7] }, slos: [] });
  });
});

describe('evaluateSlos', () => {
  const phase = (step: number, name: string, p99: number, ok = 1): PhaseResult =>
    ({ step, level: step, crds: 10, phase: name, primary: `${name}.op`, ops: [{ op: `${name}.op`, count: 1, ok, errors: {}, throughput: 1, bytes: 0, latencyMs: { p50: 1, p90: 1, p99, p999: p99, max: p99, mean: 1 }, histogram: '' }] }) as unknown as PhaseResult;

  it('checks every step of the named phase against the limit in ms', () => {
    const verdict = evaluateSlos(sloFacts({ 'list.p99': '1.5s' }), [phase(0, 'list', 900), phase(1, 'list', 1600)]);
    expect(verdict.passed).toBe(false);
    expect(verdict.lines).toEqual(['SLO list.p99 ≤ 1.5s: step 0 p99=900ms met', 'SLO list.p99 ≤ 1.5s: step 1 p99=1600ms MISSED']);
    expect(evaluateSlos(sloFacts({ 'list.p99': '2s' }), [phase(0, 'list', 900), phase(1, 'list', 1600)]).passed).toBe(true);
  });

  it('misses an objective whose phase did not run or had no success', () => {
    expect(evaluateSlos(sloFacts({ 'gone.p50': '1s' }), [phase(0, 'list', 1)]).lines).toEqual(['SLO gone.p50 ≤ 1s: no phase "gone" ran']);
    expect(evaluateSlos(sloFacts({ 'list.p50': '1s' }), [phase(0, 'list', 1, 0)]).passed).toBe(false);
  });
});
