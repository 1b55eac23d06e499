/**
 * Heap sizing from the plan (src/cli/heap.ts): what the shipped scenarios get,
 * and that only the asa-bench launcher re-executes itself.
 */
import { describe, expect, it } from 'vitest';
import { chooseHeap, heapEnv, isLauncher, reexecWithHeap } from '../../src/cli/heap.js';
import { loadScenarioFile } from '../../src/scenarios/parse.js';
import { compilePlan } from '../../src/scenarios/plan.js';

const planOf = async (name: string) => compilePlan((await loadScenarioFile(`scenarios/${name}.yaml`, { allowHuge: false })).doc);

describe('chooseHeap', () => {
  it('sizes every plan, a small one too, never with a hard old-space limit', async () => {
    const smoke = chooseHeap(await planOf('smoke'));
    expect(smoke.flags).toEqual(['--max-semi-space-size=1', '--heap-growing-percent=50']);
    expect(smoke.why).toMatch(/10 watchers/);
    const fanout = chooseHeap(await planOf('watch-fanout'));
    expect(fanout.flags).toEqual(['--max-semi-space-size=2', '--heap-growing-percent=50']);
    expect(fanout.why).toMatch(/2000 watchers/);
    const churn = chooseHeap(await planOf('mixed-churn'));
    expect(churn.why).toMatch(/peak 1000 requests\/s/); // the ramp's top
    expect(churn.flags).toContain('--max-semi-space-size=2');
    const crds = chooseHeap(await planOf('crds-500'));
    expect(crds.flags).toContain('--max-semi-space-size=1');
    for (const c of [smoke, fanout, churn, crds]) expect(c.flags.some((f) => f.startsWith('--max-old-space-size'))).toBe(false);
  });
});

describe('reexecWithHeap', () => {
  it('never re-executes a process that is not the launcher (here: vitest)', () => {
    expect(isLauncher()).toBe(false);
    expect(isLauncher('bin/asa-bench.js')).toBe(true);
    expect(reexecWithHeap({ flags: ['--max-semi-space-size=1'], why: 'test' })).toMatch(/not the asa-bench launcher/);
    expect(reexecWithHeap({ flags: [], why: 'small plan' })).toBe('default (small plan)');
  });
});

describe('heapEnv', () => {
  it('limits glibc malloc to two arenas unless the user chose', () => {
    expect(heapEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '2' });
    expect(heapEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });
});
