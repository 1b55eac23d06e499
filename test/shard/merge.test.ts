/**
 * Merging shard results: counts, bytes and errors add up, histograms merge
 * exactly (the merged histogram is the histogram of the union of the values),
 * percentiles come from the merged histogram, run metadata takes the worst
 * status and the outer times, and runs that are not the shards of one
 * scenario are refused unless forced. Also the `merge` command end to end on
 * synthetic result folders, and `report` / `compare` on its output.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { compareCommand } from '../../src/cli/compare.js';
import { mergeCommand } from '../../src/cli/merge.js';
import { Output } from '../../src/cli/output.js';
import { describeShardProblem } from '../../src/cli/merge.js';
import { reportCommand } from '../../src/cli/report.js';
import { decodeHistogram, encodeHistogram, latencySummaryMs, newHistogram } from '../../src/metrics/histogram.js';
import { mergeShards, mergeHistograms, mergeSchedule, NotShardsError, shardProblems, type ShardProblem, type ShardRun } from '../../src/shard/merge.js';
import { AsaError, ExitCode, UsageError } from '../../src/types/errors.js';
import type { OpSummary, PhaseResult, RunInfo, RunStatus } from '../../src/types/results.js';

/** Deterministic pseudo-random latencies (µs) spanning several orders of magnitude. */
function values(seed: number, n: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 1 + Math.floor((x / 2147483648) ** 3 * 5_000_000);
  });
}

function histogramOf(vs: number[]) {
  const h = newHistogram();
  for (const v of vs) h.recordValue(v);
  return h;
}

const stored = (h: ReturnType<typeof newHistogram>) => decodeHistogram(encodeHistogram(h));

function op(name: string, vs: number[], extra: Partial<OpSummary> = {}): OpSummary {
  const h = histogramOf(vs);
  return { op: name, count: vs.length, ok: vs.length, errors: {}, throughput: 0, bytes: vs.length * 10, latencyMs: latencySummaryMs(h), histogram: encodeHistogram(h), ...extra };
}

function phase(step: number, name: string, ops: OpSummary[], extra: Partial<PhaseResult> = {}): PhaseResult {
  return {
    step,
    level: 10,
    crds: 10,
    load: { model: 'closed', concurrency: 2 },
    phase: name,
    kind: 'list',
    limit: 'iterations',
    primary: ops[0]?.op ?? name,
    startedAt: '2026-01-01T00:00:10.000Z',
    durationMs: 1000,
    ops,
    harness: { cpuCores: 0.2, eventLoopDelayP99Ms: 1, eventLoopDelayMaxMs: 2, rssMaxBytes: 100, saturated: false },
    ...extra,
  };
}

function shardRun(index: number, count: number, phases: PhaseResult[], extra: Partial<RunInfo> = {}): ShardRun {
  const runId = `rshard${index}0`.slice(0, 8);
  const run: RunInfo = {
    formatVersion: 1,
    runId,
    tool: { name: 'asa-bench', version: '0.1.0', node: 'v24' },
    scenario: { name: 'smoke', file: '/x/smoke.yaml', sha256: 'abc', text: 'name: smoke' },
    target: { server: 'https://127.0.0.1:6443', context: 'local', local: false, version: { gitVersion: 'v1.36.0' } },
    machine: { cores: 2, memoryBytes: 1e9, platform: 'linux-x64' },
    flags: {},
    startedAt: `2026-01-01T00:00:0${index}.000Z`,
    endedAt: `2026-01-01T00:01:0${index}.000Z`,
    status: 'complete',
    shard: { index, count },
    ...extra,
  };
  return { dir: `/results/shard-${index}`, run, summary: { formatVersion: 1, runId, phases } };
}

const A = values(1, 3000);
const B = values(2, 1700);
const C = values(3, 1);

describe('mergeHistograms', () => {
  it('gives exactly the histogram of the union of the values', () => {
    const merged = mergeHistograms([encodeHistogram(histogramOf(A)), encodeHistogram(histogramOf(B)), encodeHistogram(histogramOf(C))]);
    // Results store histograms encoded (3 significant digits; an exact max is not kept), so the
    // reference is the union's histogram as stored: encoded and decoded.
    const union = stored(histogramOf([...A, ...B, ...C]));
    expect(merged.totalCount).toBe(A.length + B.length + C.length);
    expect(encodeHistogram(merged)).toBe(encodeHistogram(union));
    for (let p = 0; p <= 100; p += 2.5) expect(merged.getValueAtPercentile(p), `p${p}`).toBe(union.getValueAtPercentile(p));
    expect(merged.maxValue).toBe(union.maxValue);
    expect(merged.minNonZeroValue).toBe(union.minNonZeroValue);
    expect(merged.mean).toBeCloseTo(union.mean, 9);
    expect(latencySummaryMs(merged)).toEqual(latencySummaryMs(union));
  });

  it('round-trips through encode/decode', () => {
    const merged = mergeHistograms([encodeHistogram(histogramOf(A)), encodeHistogram(newHistogram())]);
    expect(decodeHistogram(encodeHistogram(merged)).totalCount).toBe(A.length);
  });
});

describe('mergeShards', () => {
  const s1 = shardRun(1, 3, [
    phase(0, 'install', [op('create.crds', A.slice(0, 4)), op('crd.established', A.slice(4, 8))], { load: { model: 'closed', concurrency: 2 }, level: 4, crds: 4 }),
    phase(0, 'list', [op('list.quorum', A, { errors: { 'http-500': 2 }, errorExamples: { 'http-500': 'boom' }, count: A.length + 2 })], { durationMs: 2000, harness: { cpuCores: 0.9, eventLoopDelayP99Ms: 5, eventLoopDelayMaxMs: 9, rssMaxBytes: 500, saturated: true } }),
    phase(0, 'get', [op('get.quorum', C)], { load: { model: 'open', ratePerSecond: 100 / 3 } }),
  ]);
  const s2 = shardRun(2, 3, [
    phase(0, 'install', [op('create.crds', B.slice(0, 3)), op('crd.established', B.slice(3, 6))], { level: 3, crds: 3 }),
    phase(0, 'list', [op('list.quorum', B, { errors: { 'http-500': 1, timeout: 4 }, count: B.length + 5 })], { durationMs: 4000, startedAt: '2026-01-01T00:00:05.000Z' }),
    phase(0, 'get', [], { load: { model: 'open', ratePerSecond: 100 / 3 } }),
  ], { status: 'partial', reason: 'interrupted' });
  const s3 = shardRun(3, 3, [
    phase(0, 'install', [op('create.crds', C.slice(0, 3))], { level: 3, crds: 3, load: { model: 'closed', concurrency: 1 } }),
    phase(0, 'list', [op('list.quorum', C)], { harness: { cpuCores: 0.1, eventLoopDelayP99Ms: 1, eventLoopDelayMaxMs: 1, rssMaxBytes: 900, saturated: false } }),
    phase(0, 'get', [op('get.quorum', A.slice(0, 5))], { load: { model: 'open', ratePerSecond: 100 / 3 } }),
  ]);

  it('adds counts, ok, bytes and errors; merges histograms; recomputes percentiles and throughput', () => {
    const { summary } = mergeShards([s3, s1, s2]);
    expect(summary.phases.map((p) => p.phase)).toEqual(['install', 'list', 'get']);
    const list = summary.phases[1]!;
    const row = list.ops.find((o) => o.op === 'list.quorum')!;
    expect(row.count).toBe(A.length + 2 + B.length + 5 + C.length);
    expect(row.ok).toBe(A.length + B.length + C.length);
    expect(row.bytes).toBe((A.length + B.length + C.length) * 10);
    expect(row.errors).toEqual({ 'http-500': 3, timeout: 4 });
    expect(row.errorExamples).toEqual({ 'http-500': 'boom' });
    const union = stored(histogramOf([...A, ...B, ...C]));
    expect(decodeHistogram(row.histogram).totalCount).toBe(union.totalCount);
    expect(row.histogram).toBe(encodeHistogram(union));
    expect(row.latencyMs).toEqual(latencySummaryMs(union));
    // Throughput: summed count over the longest shard duration (4 s).
    expect(list.durationMs).toBe(4000);
    expect(row.throughput).toBeCloseTo(row.count / 4, 2);
    expect(list.startedAt).toBe('2026-01-01T00:00:05.000Z');
    expect(list.harness).toEqual({ cpuCores: 0.9, eventLoopDelayP99Ms: 5, eventLoopDelayMaxMs: 9, rssMaxBytes: 900, saturated: true });

    const install = summary.phases[0]!;
    expect(install.ops.find((o) => o.op === 'create.crds')!.count).toBe(4 + 3 + C.length);
    expect(install.ops.find((o) => o.op === 'crd.established')!.count).toBe(7); // only in shards 1 and 2
    expect(install.level).toBe(10);
    expect(install.crds).toBe(10);
    expect(install.load).toEqual({ model: 'closed', concurrency: 5 });

    const get = summary.phases[2]!;
    expect(get.load.model === 'open' && get.load.ratePerSecond).toBeCloseTo(100, 6);
    expect(get.ops.find((o) => o.op === 'get.quorum')!.count).toBe(C.length + 5);
  });

  it('takes the worst status, the earliest start and the latest end, and lists the shards', () => {
    const { run } = mergeShards([s2, s3, s1]);
    expect(run.status).toBe('partial');
    expect(run.reason).toContain('shard 2/3: interrupted');
    expect(run.startedAt).toBe('2026-01-01T00:00:01.000Z');
    expect(run.endedAt).toBe('2026-01-01T00:01:03.000Z');
    expect(run.shard).toBeUndefined();
    expect(run.shards!.map((s) => [s.index, s.count, s.status])).toEqual([
      [1, 3, 'complete'],
      [2, 3, 'partial'],
      [3, 3, 'complete'],
    ]);
    const failed = shardRun(1, 3, [], { status: 'failed', reason: 'x' });
    expect(mergeShards([failed, s2, s3]).run.status).toBe('failed');
    expect(mergeShards([s1, { ...s2, run: { ...s2.run, status: 'complete', reason: undefined } }, s3]).run.status).toBe('complete');
  });

  it('refuses runs that are not the shards 1..N of one scenario, unless forced', () => {
    const other = shardRun(3, 3, [], { scenario: { ...s3.run.scenario, sha256: 'def' } });
    const split4 = shardRun(3, 4, []);
    const unsharded = shardRun(3, 3, [], { shard: undefined });
    const cases: [ShardRun[], ShardProblem['kind']][] = [
      [[s1, s2, other], 'scenarios'],
      [[s1, s2, split4], 'splits'],
      [[s1, s2], 'missing'],
      [[s1, s2, s2], 'twice'],
      [[s1, s2, unsharded], 'unsharded'],
    ];
    for (const [runs, kind] of cases) {
      expect(shardProblems(runs).map((p) => p.kind)).toContain(kind);
      // A typed error carrying the facts (the CLI words them), with the exit code of bad input.
      expect(() => mergeShards(runs)).toThrow(UsageError);
      expect(() => mergeShards(runs)).toThrow(NotShardsError);
      expect(() => mergeShards(runs, { force: true })).not.toThrow();
    }
    expect(shardProblems([s1, s2, s3])).toEqual([]);
    expect(shardProblems([s1, s2, s2])).toContainEqual({ kind: 'twice', index: 2, count: 3, dirs: [s2.dir, s2.dir] });
    expect(describeShardProblem({ kind: 'missing', count: 3, indexes: [1, 3] })).toBe('missing shard(s) 1/3, 3/3');
    expect(() => mergeShards([], { force: true })).toThrow(NotShardsError);
  });
});

describe('merged plan facts', () => {
  const slos = [{ key: 'list.p99', phase: 'list', stat: 'p99' as const, limit: '1s', limitMs: 1000 }];
  const facts = (levels: number[]) => ({ sweep: { by: 'crds' as const, levels }, slos });

  it('add the shards\' step levels back up, as the phases\' levels do, and keep the SLOs', () => {
    // 5 and 10 CRDs over 2 shards: shares 3+2 and 5+5.
    const merged = mergeShards([shardRun(1, 2, [phase(0, 'list', [op('list.quorum', C)])], { plan: facts([3, 5]) }), shardRun(2, 2, [phase(0, 'list', [op('list.quorum', C)])], { plan: facts([2, 5]) })]);
    expect(merged.run.plan).toEqual(facts([5, 10]));
  });

  it('are left out when a shard has none (a result from before they were recorded)', () => {
    const merged = mergeShards([shardRun(1, 2, [phase(0, 'list', [op('list.quorum', C)])], { plan: facts([3]) }), shardRun(2, 2, [phase(0, 'list', [op('list.quorum', C)])])]);
    expect(merged.run.plan).toBeUndefined();
  });
});

describe('asa-bench merge (command)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function cli(command: 'merge' | 'report' | 'compare', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const out = new Output({ write: (t: string) => ((stdout += t), true) } as NodeJS.WritableStream, { write: (t: string) => ((stderr += t), true) } as NodeJS.WritableStream, true);
    let code: number = ExitCode.ok;
    const setExit = (c: number) => (code = c);
    const module = command === 'merge' ? mergeCommand(out, setExit) : command === 'report' ? reportCommand(out, setExit) : compareCommand(out, setExit);
    try {
      await yargs([command, ...args]).command(module).strict().exitProcess(false).fail((msg, err) => {
        throw err ?? new UsageError(msg);
      }).parseAsync();
    } catch (err) {
      if (err instanceof AsaError) return { code: err.exitCode, stdout, stderr: `${stderr}${err.message}` };
      throw err;
    }
    return { code, stdout, stderr };
  }

  async function write(root: string, s: ShardRun): Promise<string> {
    const dir = path.join(root, `shard-${s.run.shard?.index ?? s.run.runId}-${s.run.scenario.sha256}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'run.json'), JSON.stringify(s.run));
    await writeFile(path.join(dir, 'summary.json'), JSON.stringify(s.summary));
    await writeFile(path.join(dir, 'intervals.csv'), `t_s,step,level,phase,op,count,errors,throttled_429,p50_ms,p99_ms,max_ms\n1.5,0,4,list,list.quorum,3,0,0,1,2,3\n`);
    return dir;
  }

  it('writes a merged results folder that report and compare read; refuses mismatched runs with exit 2', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'asa-merge-'));
    dirs.push(root);
    const mk = (i: number, status: RunStatus = 'complete') => shardRun(i, 2, [phase(0, 'list', [op('list.quorum', i === 1 ? A : B)])], { status });
    const d1 = await write(root, mk(1));
    const d2 = await write(root, mk(2));
    const merged = path.join(root, 'merged');
    const res = await cli('merge', [d1, d2, '--out', merged]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('list.quorum');
    const run = JSON.parse(await readFile(path.join(merged, 'run.json'), 'utf8')) as RunInfo;
    expect(run.shards).toHaveLength(2);
    const intervals = await readFile(path.join(merged, 'intervals.csv'), 'utf8');
    expect(intervals.trim().split('\n')).toEqual(['t_s,step,level,phase,op,count,errors,throttled_429,p50_ms,p99_ms,max_ms,shard', '1.5,0,4,list,list.quorum,3,0,0,1,2,3,1/2', '2.5,0,4,list,list.quorum,3,0,0,1,2,3,2/2']);

    const report = await cli('report', [merged]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('list.quorum');
    const compare = await cli('compare', [merged, merged, '--format', 'json']);
    expect(compare.code, compare.stderr).toBe(0);

    // Not shards of one scenario: exit 2, nothing written; --force merges anyway.
    const odd = await write(root, shardRun(2, 2, [], { scenario: { ...mk(2).run.scenario, sha256: 'other' } }));
    const refused = await cli('merge', [d1, odd, '--out', path.join(root, 'refused')]);
    expect(refused.code).toBe(ExitCode.usage);
    expect(refused.stderr).toMatch(/different scenario files/);
    const forced = await cli('merge', [d1, odd, '--out', path.join(root, 'forced'), '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    // An existing run folder is never overwritten.
    expect((await cli('merge', [d1, d2, '--out', merged])).code).toBe(ExitCode.usage);
  });
});

describe('mergeSchedule', () => {
  it('adds the parts’ scheduling-lag histograms exactly; absent when no part has one', () => {
    const part = (lagsUs: number[]) => {
      const h = newHistogram();
      for (const us of lagsUs) h.recordValue(us);
      return { started: lagsUs.length, lagMs: latencySummaryMs(h), histogram: encodeHistogram(h) };
    };
    const merged = mergeSchedule([part([10, 20, 30]), undefined, part([4_000])]).schedule!;
    expect(merged.started).toBe(4);
    expect(decodeHistogram(merged.histogram).totalCount).toBe(4);
    expect(merged.lagMs.max).toBeCloseTo(4, 2);
    expect(mergeSchedule([undefined, undefined])).toEqual({});
  });
});
