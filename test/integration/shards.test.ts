/**
 * `run --shard i/N` and `merge` end to end against the shared real control
 * plane: scenarios/smoke.yaml unsharded, then as 3 shards running side by
 * side; the merged result must have the unsharded request counts for every
 * operation whose count the scenario fixes, histograms holding every shard's
 * samples, and be readable by `report` and `compare`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import yargs from 'yargs';
import { mergeCommand } from '../../src/cli/merge.js';
import { Output } from '../../src/cli/output.js';
import { decodeHistogram } from '../../src/metrics/histogram.js';
import { AsaError } from '../../src/types/errors.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Ops whose count depends on timing or server state, not on the scenario alone. */
const VARIABLE = /^(watch\.(events\.|event-latency|bookmark|established|reconnect|relist)|discovery\.legacy\.|list\.pages|transport\.|throttled\.|cancelled)/;

async function read(dir: string): Promise<{ run: RunInfo; summary: RunSummary }> {
  return {
    run: JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunInfo,
    summary: JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary,
  };
}

/** `asa-bench merge`, in process (the command module as main.ts registers it). */
async function merge(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const out = new Output(sink, { write: (t: string) => ((stderr += t), true) } as NodeJS.WritableStream, true);
  let code = 0;
  try {
    await yargs(['merge', ...args]).command(mergeCommand(out, (c) => (code = c))).strict().exitProcess(false).fail((m, e) => {
      throw e ?? new Error(m);
    }).parseAsync();
  } catch (err) {
    if (err instanceof AsaError) return { code: err.exitCode, stderr: err.message };
    throw err;
  }
  return { code, stderr };
}

const counts = (summary: RunSummary) => {
  const m = new Map<string, number>();
  for (const p of summary.phases) for (const o of p.ops) if (!VARIABLE.test(o.op)) m.set(`${p.step}/${p.phase}/${o.op}`, o.count);
  return m;
};

describe('asa-bench run --shard i/N + merge', () => {
  it('3 shards of smoke add up to the unsharded request counts; the merged run reports', { timeout: 600_000 }, async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'asa-shards-'));
    dirs.push(root);
    const kubeconfig = inject('kubeconfig');
    const whole = path.join(root, 'whole');
    const single = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kubeconfig, '--out', whole]);
    expect(single.stderr).not.toMatch(/internal error/);
    expect(single.code, single.stderr).toBe(0);

    const shardDirs = [1, 2, 3].map((i) => path.join(root, `shard-${i}`));
    const shards = await Promise.all(shardDirs.map((out, k) => runCli(['run', 'scenarios/smoke.yaml', '--shard', `${k + 1}/3`, '--kubeconfig', kubeconfig, '--out', out])));
    for (const s of shards) {
      expect(s.stderr).not.toMatch(/internal error/);
      // 0 = complete, 1 = an SLO missed under the concurrent load: both are finished runs.
      expect([0, 1], s.stderr).toContain(s.code);
    }
    const parts = await Promise.all(shardDirs.map(read));
    parts.forEach((p, k) => {
      expect(p.run.shard).toEqual({ index: k + 1, count: 3 });
      expect(p.run.status).toBe('complete');
      expect(p.run.cleanup?.leftover).toBe(0);
    });
    expect(new Set(parts.map((p) => p.run.runId)).size).toBe(3);

    const merged = path.join(root, 'merged');
    const res = await merge([...shardDirs, '--out', merged]);
    expect(res.code, res.stderr).toBe(0);
    const m = await read(merged);
    const w = await read(whole);
    expect(m.run.status).toBe('complete');
    expect(m.run.shards?.map((s) => s.index)).toEqual([1, 2, 3]);

    // Every op with a fixed count: the same count as the unsharded run.
    const expected = counts(w.summary);
    expect(expected.get('0/install/create.crds')).toBe(20);
    expect(expected.get('0/discovery-legacy/discovery.legacy-fanout')).toBe(2);
    expect(Object.fromEntries(counts(m.summary))).toEqual(Object.fromEntries(expected));
    for (const p of m.summary.phases) {
      expect(p.level, p.phase).toBe(20);
      expect(p.crds, p.phase).toBe(20);
    }

    // Merged histograms hold every shard's samples.
    for (const p of m.summary.phases) {
      for (const o of p.ops) {
        const shardTotal = parts
          .flatMap((s) => s.summary.phases.filter((q) => q.step === p.step && q.phase === p.phase))
          .flatMap((q) => q.ops.filter((x) => x.op === o.op))
          .reduce((a, x) => a + decodeHistogram(x.histogram).totalCount, 0);
        expect(decodeHistogram(o.histogram).totalCount, `${p.phase}/${o.op}`).toBe(shardTotal);
      }
    }

    // Mismatched inputs are refused.
    expect((await merge([shardDirs[0]!, whole, '--out', path.join(root, 'bad')])).code).toBe(2);

    const report = await runCli(['report', merged]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('create.crds');
    const compare = await runCli(['compare', whole, merged, '--format', 'json']);
    expect(compare.stderr).not.toMatch(/internal error/);
    expect([0, 1, 6]).toContain(compare.code);
  });
});
