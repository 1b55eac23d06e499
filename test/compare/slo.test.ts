import { describe, expect, it } from 'vitest';
import { evaluateSlos } from '../../src/compare/slo.js';
import { sloFacts } from '../../src/scenarios/plan.js';
import { makeRun } from './fixtures.js';

const phases = [
  ...makeRun([{ step: 0, phase: 'create', op: 'create.objects', p99: 400 }]).phases,
  ...makeRun([{ step: 1, phase: 'create', op: 'create.objects', p99: 1200 }]).phases,
  ...makeRun([{ step: 0, phase: 'list', op: 'list.cache', p99: 20, p50: 3 }]).phases,
];

describe('evaluateSlos', () => {
  it('checks the named phase\'s primary operation at every step, in the unit given', () => {
    const v = evaluateSlos(sloFacts({ 'create.p99': '1s', 'list.p50': '5ms' }), phases);
    expect(v.passed).toBe(false);
    expect(v.lines).toEqual([
      'SLO create.p99 ≤ 1s: step 0 p99=400ms met',
      'SLO create.p99 ≤ 1s: step 1 p99=1200ms MISSED',
      'SLO list.p50 ≤ 5ms: step 0 p50=3ms met',
    ]);
    expect(evaluateSlos(sloFacts({ 'create.p99': '2s' }), phases).passed).toBe(true);
  });

  it('a phase that did not run, or had no successful request, misses its SLO', () => {
    expect(evaluateSlos(sloFacts({ 'watch.p99': '1s' }), phases)).toEqual({ passed: false, lines: ['SLO watch.p99 ≤ 1s: no phase "watch" ran'] });
    const failed = makeRun([{ phase: 'create', op: 'create.objects', p99: 0, ok: 0, errors: { 'http-500': 5 } }]).phases;
    expect(evaluateSlos(sloFacts({ 'create.p99': '1s' }), failed).lines).toEqual(['SLO create.p99 ≤ 1s: step 0 has no successful create.objects: MISSED']);
  });

  it('no SLOs: passed, nothing to say', () => {
    expect(evaluateSlos(sloFacts({}), phases)).toEqual({ passed: true, lines: [] });
  });
});
