/**
 * compare end to end on the real server: the same build twice is not a
 * regression (exit 0); a build that admits only 2 requests in flight
 * (--enable-priority-and-fairness=false --max-requests-inflight=2: the
 * classic max-in-flight filter, which answers 429 at once rather than
 * queueing, so the result does not hinge on a busy machine's CPU) is, and its
 * report names flow control as the cause.
 *
 * Each run starts its own ephemeral control plane (no --kubeconfig), so the
 * constrained flags apply to the candidate only. Each side has 3 repetitions,
 * so a row must also pass the one-sided Mann-Whitney test (no overlap at all
 * between the sides), and thresholds are wide because a shared 2-core CI
 * machine is noisy: single runs there differ by more than 50% in p99.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import type { RunSummary } from '../../src/types/results.js';

const scenario = 'test/fixtures/scenarios/integration/compare.yaml';
const wide = ['--threshold-p99', '60', '--p99-floor-ms', '20', '--threshold-throughput', '35'];
let root: string;

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('asa-bench compare', () => {
  it('finds no regression between two runs of the same build, and flags a flow-control-starved build', { timeout: 600_000 }, async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'asa-compare-'));
    const dir = (side: string, rep?: number) => (rep === undefined ? path.join(root, side) : path.join(root, side, `rep-${rep}`));
    const constrainedFlags = [
      '--apiserver-arg=--enable-priority-and-fairness=false',
      '--apiserver-arg=--max-requests-inflight=2',
      '--apiserver-arg=--max-mutating-requests-inflight=2',
    ];
    for (let rep = 1; rep <= 3; rep++) {
      // Interleaved, so slow drift of the machine hits every side alike.
      for (const side of ['a', 'b', 'constrained']) {
        const run = await runCli(['run', scenario, '--out', dir(side, rep), ...(side === 'constrained' ? constrainedFlags : [])]);
        expect(run.code, `${side} rep ${rep}: ${run.stderr.slice(-2000)}`).toBe(0);
      }
    }
    const same = await runCli(['compare', dir('a'), dir('b'), ...wide]);
    expect(same.stdout).toContain('No regression');
    expect(same.code, same.stdout + same.stderr).toBe(0);

    const worse = await runCli(['compare', dir('a'), dir('constrained'), ...wide]);
    expect(worse.code, worse.stdout + worse.stderr).toBe(1);
    expect(worse.stdout).toContain('REGRESSION');
    expect(worse.stdout).toMatch(/get\.quorum.*REGRESSION \(.*http-429/);

    // The server throttled: 429s counted apart from errors for the starved phase, and the report says so.
    const summary = JSON.parse(await readFile(path.join(dir('constrained', 1), 'summary.json'), 'utf8')) as RunSummary;
    const get = summary.phases.find((p) => p.phase === 'get')!;
    expect(get.ops.find((o) => o.op === 'get.quorum')?.errors['http-429'] ?? 0).toBeGreaterThan(0);
    const report = await readFile(path.join(dir('constrained', 1), 'report.md'), 'utf8');
    expect(report).toContain('flow control');

    const md = await runCli(['compare', dir('a'), dir('constrained'), ...wide, '--format', 'md']);
    expect(md.stdout).toMatch(/^## asa-bench compare/m);
    expect(md.stdout).toContain('| get | get.quorum |');
  });
});
