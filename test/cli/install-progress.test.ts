import { describe, expect, it } from 'vitest';
import { InstallProgress, pendingNote, phaseLine } from '../../src/cli/install-progress.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { compilePlan } from '../../src/scenarios/plan.js';

const plan = compilePlan(
  parseScenario(
    `version: 1
name: p
generate: { crds: { count: 5000 } }
steps: { by: crds, at: [500, 1000, 2000, 3500, 5000] }
phases:
  - { name: install, op: create, of: crds, rate: 20/s, duration: 10m, waitFor: established }
  - { name: discovery, op: discovery, repeat: 3 }
`,
    'p.yaml',
  ),
);

describe('InstallProgress', () => {
  it('says the step, CRDs installed, the rate and ETAs for the step and the run', () => {
    let now = 0;
    const p = new InstallProgress(plan, () => now);
    expect(p.installs('install')).toBe(true);
    expect(p.installs('discovery')).toBe(false);
    p.phaseStarted(0, 'install', 500);
    now = 10_000;
    // Before any step was measured the run ETA is a floor: installs only.
    expect(p.line(0, 'install', 200, 500, 0)).toBe('step 1/5 (500 CRDs) ▸ install: 200 CRDs installed, 200/500 this step, 20/s, step ETA 15 s, run ETA ≥4 min');
    p.phaseEnded(0, 'install', 25_000);
    p.phaseEnded(0, 'discovery', 60_000);
    p.phaseStarted(3, 'install', 1500);
    now += 100_000;
    // 2,000 + 500 installed at 5/s: 200 s left in the step; run: 2,500 CRDs at 5/s + 2 steps × 60 s.
    expect(p.line(3, 'install', 500, 1500, 3)).toBe('step 4/5 (3,500 CRDs) ▸ install: 2,500 CRDs installed, 500/1,500 this step, 5.0/s, step ETA 3 min, run ETA ~10 min, 3 errors');
  });
});

describe('what a phase waits for', () => {
  const event = { type: 'phase-progress' as const, step: plan.steps[0]!, phase: 'create', total: 100, errors: 0 };

  it('says the first response is pending while nothing finished', () => {
    expect(phaseLine({ ...event, done: 0, inFlight: 3, oldestPendingMs: 2_040 })).toBe('  create: 0/100 done, 0 errors; 3 in flight, first response pending for 2.0 s');
  });

  it('names the stages the operation reports instead, and the oldest wait once it passes 1 s', () => {
    expect(pendingNote({ done: 0, inFlight: 3, oldestPendingMs: 1_500, waiting: { 'waiting for Established': 3 } })).toBe('; 3 in flight, 3 waiting for Established, oldest for 1.5 s');
    expect(pendingNote({ done: 40, inFlight: 2, oldestPendingMs: 2_500, waiting: { 'waiting for Established': 1, 'waiting until servable': 1 } })).toBe(
      '; 2 in flight, 1 waiting for Established, 1 waiting until servable, oldest for 2.5 s',
    );
  });

  it('says nothing of a steady phase: requests in flight for milliseconds, or none', () => {
    expect(phaseLine({ ...event, done: 1_200, total: 5_000, errors: 2, inFlight: 8, oldestPendingMs: 12 })).toBe('  create: 1,200/5,000 done, 2 errors; 8 in flight');
    expect(phaseLine({ ...event, done: 100, inFlight: 0 })).toBe('  create: 100/100 done, 0 errors');
    const { total: _, ...untimed } = event;
    expect(phaseLine({ ...untimed, done: 7, inFlight: 0 })).toBe('  create: 7 done, 0 errors');
  });
});
