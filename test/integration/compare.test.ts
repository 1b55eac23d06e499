/**
 * compare end to end on the real server: the same build twice is not a
 * regression (exit 0); a build constrained to one seat per priority level
 * (--max-requests-inflight=1 --max-mutating-requests-inflight=1) is, and its
 * report names flow control as the cause.
 *
 * Each run starts its own ephemeral control plane (no --kubeconfig), so the
 * constrained flags apply to the candidate only. Thresholds are wide because a
 * shared 2-core CI machine is noisy; the constrained case moves p99 by an
 * order of magnitude.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import type { RunSummary } from '../../src/types/results.js';

const scenario = 'test/fixtures/scenarios/integration/compare.yaml';
const wide = ['--threshold-p99', '60', '--p99-floor-ms', '20', '--threshold-throughput', '35'];
let root: string;

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('asa-bench compare', () => {
  it('finds no regression between two runs of the same build, and flags a flow-control-starved build', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'asa-compare-'));
    const dir = (name: string) => path.join(root, name);
    for (const name of ['a', 'b']) {
      const run = await runCli(['run', scenario, '--out', dir(name)]);
      expect(run.code, run.stderr).toBe(0);
    }
    const same = await runCli(['compare', dir('a'), dir('b'), ...wide]);
    expect(same.stdout).toContain('No regression');
    expect(same.code, same.stdout + same.stderr).toBe(0);

    const constrained = await runCli([
      'run', scenario, '--out', dir('constrained'),
      '--apiserver-arg=--max-requests-inflight=1', '--apiserver-arg=--max-mutating-requests-inflight=1',
    ]);
    expect(constrained.code, constrained.stderr).toBe(0);
    const worse = await runCli(['compare', dir('a'), dir('constrained'), ...wide]);
    expect(worse.code, worse.stdout + worse.stderr).toBe(1);
    expect(worse.stdout).toContain('REGRESSION');
    expect(worse.stdout).toMatch(/get\.quorum.*REGRESSION \((p99|throughput)/);

    // The server saw its queues: APF wait recorded for the starved phase, and the report says so.
    const summary = JSON.parse(await readFile(path.join(dir('constrained'), 'summary.json'), 'utf8')) as RunSummary;
    const get = summary.phases.find((p) => p.phase === 'get')!;
    expect(get.server?.apfWaitP99Ms ?? 0).toBeGreaterThan(50);
    const report = await readFile(path.join(dir('constrained'), 'report.md'), 'utf8');
    expect(report).toContain('flow control');

    const md = await runCli(['compare', dir('a'), dir('constrained'), ...wide, '--format', 'md']);
    expect(md.stdout).toMatch(/^## asa-bench compare/m);
    expect(md.stdout).toContain('| get | get.quorum |');
  });
});
