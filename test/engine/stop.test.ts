import { describe, expect, it } from 'vitest';
import { stopSentence } from '../../src/analysis/analyze.js';
import { guardFloorBytes, guardHeadroomBytes, StopMonitor, type MachineMemory } from '../../src/engine/stop.js';
import type { PlannedStep } from '../../src/scenarios/plan.js';
import { parseStopFlag } from '../../src/scenarios/stop.js';
import type { PhaseResult } from '../../src/types/results.js';
import { makeOp } from '../reporters/fixtures.js';

const GiB = 2 ** 30;
const step = (index: number, crds: number): PlannedStep => ({ index, by: 'crds', level: crds, crds });
const machine = (totalGiB: number, availableGiB: () => number): MachineMemory => ({ totalBytes: totalGiB * GiB, availableBytes: () => availableGiB() * GiB });

function phase(name: string, crds: number, rssBytes: number, p99 = 10, errors: Record<string, number> = {}): PhaseResult {
  return {
    step: 0,
    level: crds,
    crds,
    load: { model: 'closed', concurrency: 1 },
    phase: name,
    kind: 'create',
    limit: 'iterations',
    primary: 'create.crds',
    startedAt: new Date(0).toISOString(),
    durationMs: 1000,
    ops: [makeOp('create.crds', p99, 10, 100, errors)],
    harness: { cpuCores: 0.1, eventLoopDelayP99Ms: 1, eventLoopDelayMaxMs: 2, rssMaxBytes: 1, saturated: false },
    server: { cpuCores: 1, rssBytes, requests429: 0, apfRejected: 0, apfWaitP99Ms: 0, etcdP99Ms: 1, requestP99Ms: 1, objects: 0 },
  };
}

describe('StopMonitor', () => {
  it('the guard stops before a step the machine cannot hold, from the per-CRD slope so far', () => {
    // 23.5 GiB machine, 6 GiB available once the server holds 15.8 GiB at 3,500 CRDs.
    const m = new StopMonitor({ conditions: [], guard: true, machine: machine(23.5, () => 6) }, performance.now());
    m.observe({ rssBytes: 0.8 * GiB, crds: 0 });
    expect(m.beforeStep(step(1, 1000), step(0, 500), 500)).toBeUndefined(); // nothing measured with CRDs yet
    m.afterPhase(step(3, 3500), phase('install', 3500, 15.8 * GiB), 3500);
    const perCrd = (15.8 - 0.8) * GiB / 3500;
    expect(m.perCrdBytes()).toBeCloseTo(perCrd, 0);
    const at = m.beforeStep(step(4, 5000), step(3, 3500), 3500)!;
    expect(at).toMatchObject({ step: 3, crds: 3500, reason: 'memory-guard', condition: 'guard', unit: 'bytes', serverRssBytes: 15.8 * GiB });
    expect(at.next).toMatchObject({ step: 4, crds: 5000, perCrdBytes: Math.round(perCrd) });
    expect(at.next!.projectedBytes).toBeCloseTo(15.8 * GiB + 1500 * perCrd, -3);
    expect(at.limit).toBeCloseTo(15.8 * GiB + 6 * GiB - guardHeadroomBytes(23.5 * GiB), -3);
    expect(stopSentence(at, '3500 CRDs')).toBe(
      'Stopped at 3,500 CRDs: kube-apiserver memory 15.8 GiB of 23.5 GiB; the next step (5,000 CRDs) needed ~22.2 GiB at 4.4 MiB per CRD, more than the 19.5 GiB this machine could give it (memory guard: 6.0 GiB available, 2.3 GiB kept free).',
    );
  });

  it('the guard lets a step through when it fits, and is off without the flag', () => {
    const on = new StopMonitor({ conditions: [], guard: true, machine: machine(23.5, () => 15) }, performance.now());
    on.observe({ rssBytes: 1 * GiB, crds: 0 });
    on.afterPhase(step(0, 500), phase('install', 500, 3 * GiB), 500);
    expect(on.beforeStep(step(1, 1000), step(0, 500), 500)).toBeUndefined();
    const off = new StopMonitor({ conditions: [], guard: false, machine: machine(23.5, () => 0.1) }, performance.now());
    off.observe({ rssBytes: 1 * GiB, crds: 0 });
    off.afterPhase(step(0, 500), phase('install', 500, 3 * GiB), 500);
    expect(off.beforeStep(step(1, 5000), step(0, 500), 500)).toBeUndefined();
    expect(off.emergency(step(0, 500), 'install', 500)).toBeUndefined();
  });

  it('serverMemory stops before a step projected past it, and after a phase that passed it', () => {
    const limit = parseStopFlag('serverMemory=4GiB');
    const ahead = new StopMonitor({ conditions: [limit], guard: false, machine: machine(64, () => 60) }, performance.now());
    ahead.observe({ rssBytes: 1 * GiB, crds: 0 });
    ahead.afterPhase(step(0, 100), phase('install', 100, 1.5 * GiB), 100); // 5 MiB per CRD
    const at = ahead.beforeStep(step(1, 1000), step(0, 100), 100)!;
    expect(at).toMatchObject({ reason: 'server-memory', condition: 'serverMemory=4GiB', limit: 4 * GiB, step: 0, next: { crds: 1000 } });
    expect(stopSentence(at, '100 CRDs')).toMatch(/^Stopped at 100 CRDs: kube-apiserver memory 1\.5 GiB of 64\.0 GiB; the next step \(1,000 CRDs\) needed ~6\.0 GiB at 5\.1 MiB per CRD, more than serverMemory=4GiB \(4\.0 GiB\)\.$/);

    const passed = new StopMonitor({ conditions: [parseStopFlag('serverMemory=50%')], guard: false, machine: machine(8, () => 1) }, performance.now());
    expect(passed.afterPhase(step(0, 100), phase('install', 100, 3.9 * GiB), 100)).toBeUndefined();
    const over = passed.afterPhase(step(0, 100), phase('list', 100, 4.1 * GiB), 100)!;
    expect(over).toMatchObject({ reason: 'server-memory', phase: 'list', limit: 4 * GiB, value: 4.1 * GiB });
    expect(stopSentence(over, '100 CRDs')).toBe('Stopped at 100 CRDs: kube-apiserver memory 4.1 GiB of 8.0 GiB passed serverMemory=50% (4.0 GiB) in phase list.');
  });

  it('latency, error rate and wall-clock conditions trip on the phase results', () => {
    const m = new StopMonitor({ conditions: [parseStopFlag('install.p99=60s'), parseStopFlag('errorRate=5%')], guard: false, machine: machine(8, () => 4) }, performance.now());
    expect(m.afterPhase(step(0, 10), phase('install', 10, GiB, 59_000), 10)).toBeUndefined();
    expect(m.afterPhase(step(0, 10), phase('other', 10, GiB, 99_000), 10)).toBeUndefined(); // another phase's p99
    const slow = m.afterPhase(step(1, 20), phase('install', 20, GiB, 72_000), 20)!;
    expect(slow).toMatchObject({ reason: 'latency', value: 72_000, limit: 60_000, unit: 'ms', phase: 'install' });
    expect(stopSentence(slow, '20 CRDs')).toBe('Stopped at 20 CRDs: install p99 72 s passed install.p99=60s.');
    const failing = m.afterPhase(step(1, 20), phase('x', 20, GiB, 1, { 'http-500': 6, 'http-429': 50 }), 20)!;
    expect(failing).toMatchObject({ reason: 'error-rate', value: 0.06, limit: 0.05 });
    expect(stopSentence(failing, '20 CRDs')).toBe("Stopped at 20 CRDs: 6.0% of phase x's requests failed, over errorRate=5%.");

    const clock = new StopMonitor({ conditions: [parseStopFlag('elapsed=1ms')], guard: false, machine: machine(8, () => 4) }, performance.now() - 90_000);
    const late = clock.afterPhase(step(0, 10), phase('install', 10, GiB), 10)!;
    expect(late).toMatchObject({ reason: 'elapsed', phase: 'install' });
    expect(StopMonitor.endsStepAtOnce(late)).toBe(true);
    expect(StopMonitor.endsStepAtOnce(slow)).toBe(false);
  });

  it('the emergency brake trips when the machine runs below the floor', () => {
    let available = 4;
    const m = new StopMonitor({ conditions: [], guard: true, machine: machine(24, () => available) }, performance.now());
    expect(m.emergency(step(2, 2000), 'install', 1800)).toBeUndefined();
    available = 0.5;
    const at = m.emergency(step(2, 2000), 'install', 1800)!;
    expect(at).toMatchObject({ reason: 'machine-memory', crds: 1800, phase: 'install', limit: Math.round(guardFloorBytes(24 * GiB)) });
    expect(stopSentence(at, '1800 CRDs')).toBe('Stopped at 1,800 CRDs, during phase install: the machine had 0.5 GiB of memory available, below the memory guard\'s 0.8 GiB floor (kube-apiserver memory).');
  });
});

describe('StopMonitor: elapsed looks ahead', () => {
  it('stops before a step that would end past the limit, from the last step\'s install rate and measuring time', () => {
    const m = new StopMonitor({ conditions: [parseStopFlag('elapsed=30m')], guard: false, machine: machine(24, () => 20) }, performance.now() - 20 * 60_000);
    // Last step: 1,000 CRDs in 400 s (2.5/s), then 4 min of measuring. Next: 1,500 more → 600 s + 240 s = 14 min → ~34 min.
    const at = m.beforeStep(step(3, 3500), step(2, 2000), 2000, { installMs: 400_000, installedCrds: 1000, measureMs: 240_000 })!;
    expect(at).toMatchObject({ reason: 'elapsed', step: 2, crds: 2000, limit: 30 * 60_000, next: { step: 3, crds: 3500, installPerSecond: 2.5, measureMs: 240_000 } });
    expect(at.next!.projectedEndMs! / 60_000).toBeCloseTo(34, 1);
    expect(stopSentence(at, '2000 CRDs')).toBe('Stopped at 2,000 CRDs: the next step (3,500 CRDs) would end at ~34 min of the run (installing at 2.5 CRDs/s, then ~4.0 min of measuring), past elapsed=30m.');
    // A smaller next step fits.
    expect(m.beforeStep(step(3, 2500), step(2, 2000), 2000, { installMs: 400_000, installedCrds: 1000, measureMs: 60_000 })).toBeUndefined();
  });
});
