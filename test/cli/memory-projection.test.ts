import { describe, expect, it } from 'vitest';
import { memoryProjection } from '../../src/cli/validate.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { compilePlan } from '../../src/scenarios/plan.js';

const GiB = 2 ** 30;
const plan = compilePlan(
  parseScenario(
    `version: 1
name: big
generate: { crds: { count: 5000 } }
steps: { by: crds, at: [500, 1000, 2000, 3500, 5000] }
phases:
  - { name: install, op: create, of: crds, concurrency: 20 }
`,
    'big.yaml',
  ),
);
const figure = { scenario: 'big', serverVersion: 'v1.37.2', baseBytes: 0.5 * GiB, perCrdBytes: 4.6 * 2 ** 20, crds: 3500, measuredAt: '2026-11-29T01:00:00Z' };

describe('plan: projected server memory', () => {
  it('projects each step from the last per-CRD figure and warns when the top step does not fit', () => {
    const lines = memoryProjection(plan, figure, 23.5 * GiB);
    expect(lines[1]).toBe('projected kube-apiserver memory (local control plane; 4.6 MiB per CRD measured up to 3500 CRDs on v1.37.2, 2026-11-29):');
    expect(lines[2]).toBe('  500 CRDs: ~2.7 GiB; 1000 CRDs: ~5.0 GiB; 2000 CRDs: ~9.5 GiB; 3500 CRDs: ~16.2 GiB; 5000 CRDs: ~23.0 GiB');
    expect(lines[3]).toMatch(/^warning: this machine \(23\.5 GiB\) cannot hold the top step \(5000 CRDs, ~23\.0 GiB projected, 2\.4 GiB kept free\): the memory guard will stop the run after the 3500-CRD step/);
  });

  it('says nothing is known yet, and does not warn when the machine is large enough', () => {
    expect(memoryProjection(plan, undefined, 23.5 * GiB).join('\n')).toMatch(/no per-CRD figure measured for big yet/);
    expect(memoryProjection(plan, figure, 64 * GiB).some((l) => l.startsWith('warning'))).toBe(false);
  });
});
