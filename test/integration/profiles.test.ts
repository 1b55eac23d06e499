/**
 * `run --profile` end to end on the real kube-apiserver: profiles per phase and
 * step are written (and open with `go tool pprof`), their component shares sum
 * to 100 %, the report has its section, compare shows component deltas, and a
 * server with profiling off is one line in the report while the run goes on.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ComponentShare, RunSummary } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

const scenario = 'test/fixtures/scenarios/integration/profile.yaml';
let root: string;

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const summaryOf = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
const shareSum = (components: ComponentShare[]) => components.reduce((a, c) => a + c.share, 0);

describe('run --profile', () => {
  it('profiles every phase and step; shares sum to 100 %; go tool pprof opens the files; compare shows component deltas', { timeout: 400_000 }, async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'asa-profile-'));
    const kubeconfig = inject('kubeconfig');
    const dirs = [path.join(root, 'a'), path.join(root, 'b')];
    for (const dir of dirs) {
      const run = await runCli(['run', scenario, '--kubeconfig', kubeconfig, '--out', dir]);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      // A kubeconfig target: etcd is not reachable, which is said once, and the run goes on.
      expect(run.stderr).not.toMatch(/profiles from kube-apiserver unavailable/);
    }
    const summary = await summaryOf(dirs[0]!);
    const p = summary.profiles!;
    expect(p.unavailable.map((u) => u.source)).toEqual(['etcd']);

    // One CPU profile per step ▸ phase, one heap profile per step, growth between the steps.
    expect(p.cpu.map((c) => `${c.step}/${c.phase}`).sort()).toEqual(['0/create', '0/install', '0/list-cache', '1/create', '1/install', '1/list-cache']);
    expect(p.heap.map((h) => h.step)).toEqual([0, 1]);
    expect(p.heapGrowth).toHaveLength(1);
    expect(p.heapGrowth[0]).toMatchObject({ fromCrds: 4, toCrds: 8 });

    for (const c of p.cpu) {
      expect(existsSync(path.join(dirs[0]!, c.file)), c.file).toBe(true);
      if (c.cpuSeconds > 0) expect(shareSum(c.components), `${c.step}/${c.phase}`).toBeCloseTo(1, 3);
      // The duration-bound phase (2 s) is profiled for its duration; others for 1, 2, 4… s until they end.
      expect(c.profiledSeconds).toBeGreaterThanOrEqual(c.phase === 'list-cache' ? 2 : 1);
    }
    for (const h of p.heap) {
      expect(existsSync(path.join(dirs[0]!, h.file))).toBe(true);
      expect(h.inuseBytes).toBeGreaterThan(10 * 2 ** 20);
      expect(shareSum(h.components)).toBeCloseTo(1, 3);
    }

    // The raw files are real pprof: go tool pprof reads the merged install profile.
    const install = p.cpu.find((c) => c.phase === 'install' && c.step === 1)!;
    const { stdout } = await promisify(execFile)('go', ['tool', 'pprof', '-top', path.join(dirs[0]!, install.file)]);
    expect(stdout).toMatch(/Type: cpu/);
    // Go measures a profile's duration itself: a 1 s request can say 988.76ms. Within 5 %.
    const m = /Duration: ([\d.]+)(ms|s)\b/.exec(stdout);
    expect(m, stdout.slice(0, 300)).not.toBeNull();
    const pprofSeconds = Number(m![1]) / (m![2] === 'ms' ? 1000 : 1);
    expect(Math.abs(pprofSeconds - install.profiledSeconds)).toBeLessThan(0.05 * install.profiledSeconds + 0.02);

    const report = await readFile(path.join(dirs[0]!, 'report.md'), 'utf8');
    expect(report).toContain('## Where the server spends it');
    expect(report).toMatch(/From 4 to 8 CRDs.*kube-apiserver heap in use grew/);
    expect(report).toContain('etcd: not profiled');
    const html = await readFile(path.join(dirs[0]!, 'report.html'), 'utf8');
    expect(html).toContain('id="chart-heap-kube-apiserver"');

    const compared = await runCli(['compare', dirs[0]!, dirs[1]!, '--format', 'json', '--threshold-p99', '1000', '--p99-floor-ms', '10000', '--threshold-throughput', '100']);
    const comparison = JSON.parse(compared.stdout) as { profiles?: { rows: { kind: string; component: string }[] } };
    expect(comparison.profiles?.rows.some((r) => r.kind === 'cpu')).toBe(true);
    expect(comparison.profiles?.rows.some((r) => r.kind === 'heap' && r.component === 'openapi')).toBe(true);
    const table = await runCli(['compare', dirs[0]!, dirs[1]!, '--threshold-p99', '1000', '--p99-floor-ms', '10000', '--threshold-throughput', '100']);
    expect(table.stdout).toContain('Component deltas from profiles');
  });

  it('a server with profiling off: one line, the run goes on, etcd is still profiled', { timeout: 300_000 }, async () => {
    root ??= await mkdtemp(path.join(os.tmpdir(), 'asa-profile-'));
    const dir = path.join(root, 'off');
    // No --kubeconfig: the run starts its own control plane, with kube-apiserver's /debug/pprof off.
    const run = await runCli(['run', scenario, '--out', dir, '--apiserver-arg=--profiling=false']);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.stderr.match(/profiles from kube-apiserver unavailable/g)).toHaveLength(1);
    const p = (await summaryOf(dir)).profiles!;
    expect(p.unavailable.map((u) => u.source)).toEqual(['kube-apiserver']);
    expect(p.cpu.every((c) => c.source === 'etcd')).toBe(true);
    expect(p.heap.map((h) => h.source)).toEqual(['etcd', 'etcd']);
    const report = await readFile(path.join(dir, 'report.md'), 'utf8');
    expect(report).toMatch(/kube-apiserver: not profiled — GET \/debug\/pprof\/profile\?seconds=1 answered 404/);
  });
});
