/**
 * Merging the results of shard runs (slice i/N of one scenario) into one run result, as
 * if one process had offered the whole load (see slice.ts for the slicing).
 *
 * run.json: status = worst of the shards (failed > partial > complete),
 * startedAt = earliest, endedAt = latest, runId = the shards' ids joined by
 * `+`, `shards` lists every input; scenario, target, machine, tool and flags
 * are the first shard's (ordered by shard index).
 *
 * summary.json, per step ▸ phase ▸ op (union over the shards):
 * - count, ok, bytes and errors by class add up;
 * - the HDR histograms merge exactly (decoded, added, re-encoded) and the
 *   latency percentiles are recomputed from the merged histogram;
 * - throughput = summed count / the longest shard duration of that phase.
 * Per phase: level, crds and the offered load (concurrency, rate) add up,
 * startedAt = earliest, durationMs = longest; harness: max CPU, event-loop
 * delay and RSS, saturated if any shard was. Server figures (every shard
 * scrapes the same kube-apiserver) are the maximum over the shards.
 * serverSeries: the shards' samples on one time axis (from the earliest
 * start); at each sample time, max rss/CPU/429s and the sum of the shards'
 * latest CRD counts.
 */
import { decodeHistogram, encodeHistogram, latencySummaryMs, newHistogram } from '../metrics/histogram.js';
import { UsageError } from '../types/errors.js';
import { RESULT_FORMAT_VERSION, worstStatus, type HarnessStats, type OpSummary, type PhaseResult, type PlanFacts, type RunInfo, type RunSummary, type ScheduleStats, type ServerPhaseStats, type ServerSample } from '../types/results.js';

export interface ShardRun {
  dir: string;
  run: RunInfo;
  summary: RunSummary;
}

export interface MergeOptions {
  /** Merge even when the runs are not the complete set of shards of one scenario. */
  force?: boolean;
}

/** Why a set of runs is not the shards 1..N of one scenario, as facts: the CLI words them. */
export type ShardProblem =
  | { kind: 'no-runs' }
  | { kind: 'scenarios'; names: string[]; sha256s: number }
  | { kind: 'unsharded'; dirs: string[] }
  | { kind: 'splits'; counts: number[] }
  | { kind: 'twice'; index: number; count: number; dirs: [string, string] }
  | { kind: 'missing'; count: number; indexes: number[] }
  | { kind: 'formats'; versions: (string | number)[] };

/** mergeShards on runs that are not the shards 1..N of one scenario (and not forced); `problems` says why. */
export class NotShardsError extends UsageError {
  constructor(readonly problems: readonly ShardProblem[]) {
    super(`the runs are not the shards 1..N of one scenario (${problems.map((p) => p.kind).join(', ')})`);
  }
}

/** Why these runs are not the shards 1..N of one scenario; empty when they are. */
export function shardProblems(runs: readonly ShardRun[]): ShardProblem[] {
  const problems: ShardProblem[] = [];
  if (runs.length === 0) return [{ kind: 'no-runs' }];
  const shas = new Set(runs.map((r) => r.run.scenario.sha256));
  if (shas.size > 1) problems.push({ kind: 'scenarios', names: [...new Set(runs.map((r) => r.run.scenario.name))], sha256s: shas.size });
  const unsharded = runs.filter((r) => !r.run.shard);
  if (unsharded.length > 0) problems.push({ kind: 'unsharded', dirs: unsharded.map((r) => r.dir) });
  const counts = new Set(runs.filter((r) => r.run.shard).map((r) => r.run.shard!.count));
  if (counts.size > 1) problems.push({ kind: 'splits', counts: [...counts].sort((a, b) => a - b) });
  if (counts.size === 1 && unsharded.length === 0) {
    const count = [...counts][0]!;
    const seen = new Map<number, string>();
    for (const r of runs) {
      const i = r.run.shard!.index;
      if (seen.has(i)) problems.push({ kind: 'twice', index: i, count, dirs: [seen.get(i)!, r.dir] });
      else seen.set(i, r.dir);
    }
    const missing = Array.from({ length: count }, (_, k) => k + 1).filter((i) => !seen.has(i));
    if (missing.length > 0) problems.push({ kind: 'missing', count, indexes: missing });
  }
  const formats = new Set(runs.flatMap((r) => [r.run.formatVersion, r.summary.formatVersion]));
  if (formats.size > 1) problems.push({ kind: 'formats', versions: [...formats] });
  return problems;
}

/** Merges shard runs; throws NotShardsError when they are not shards of one scenario (unless `force`) or there are none. */
export function mergeShards(input: readonly ShardRun[], options: MergeOptions = {}): { run: RunInfo; summary: RunSummary } {
  const problems = shardProblems(input);
  if (input.length === 0 || (problems.length > 0 && !options.force)) throw new NotShardsError(problems);
  // Shard order (index, then input order) decides whose metadata leads and the order of rows.
  const runs = input.map((r, k) => ({ r, k })).sort((a, b) => (a.r.run.shard?.index ?? Infinity) - (b.r.run.shard?.index ?? Infinity) || a.k - b.k).map((x) => x.r);
  return { run: mergeRunInfo(runs), summary: mergeSummaries(runs) };
}

export function mergeRunInfo(runs: readonly ShardRun[]): RunInfo {
  const first = runs[0]!.run;
  const status = worstStatus(runs.map((r) => r.run.status));
  const reasons = runs.filter((r) => r.run.status !== 'complete' && r.run.reason).map((r) => `${shardLabel(r.run)}: ${r.run.reason}`);
  const startedAt = runs.map((r) => r.run.startedAt).reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
  const ends = runs.map((r) => r.run.endedAt).filter((e): e is string => e !== undefined);
  const endedAt = ends.length > 0 ? ends.reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a)) : undefined;
  const cleanups = runs.map((r) => r.run.cleanup).filter((c) => c !== undefined);
  const cleanup =
    cleanups.length > 0
      ? {
          deleted: cleanups.reduce((a, c) => a + c.deleted, 0),
          leftover: cleanups.some((c) => c.leftover < 0) ? -1 : cleanups.reduce((a, c) => a + c.leftover, 0),
          ...(cleanups.some((c) => c.skipped) ? { skipped: true } : {}),
        }
      : undefined;
  const { shard: _shard, shards: _shards, plan: _plan, ...base } = first;
  const plan = mergePlanFacts(runs.map((r) => r.run.plan));
  return {
    ...base,
    ...(plan ? { plan } : {}),
    formatVersion: RESULT_FORMAT_VERSION,
    runId: runs.map((r) => r.run.runId).join('+'),
    startedAt,
    ...(endedAt !== undefined ? { endedAt } : {}),
    status,
    ...(reasons.length > 0 ? { reason: reasons.join('; ') } : { reason: undefined }),
    ...(cleanup ? { cleanup } : {}),
    shards: runs.map((r) => ({
      runId: r.run.runId,
      ...(r.run.shard ? { index: r.run.shard.index, count: r.run.shard.count } : {}),
      status: r.run.status,
      startedAt: r.run.startedAt,
      ...(r.run.endedAt !== undefined ? { endedAt: r.run.endedAt } : {}),
      dir: r.dir,
    })),
  };
}

/** Shard levels are shares of the unsharded ones (as the phases' levels): they add back up, step by step. */
function mergePlanFacts(plans: readonly (PlanFacts | undefined)[]): PlanFacts | undefined {
  if (plans.some((p) => p === undefined)) return undefined;
  const all = plans as readonly PlanFacts[];
  const first = all[0]!;
  const levels = first.sweep.levels.map((_, i) => round(all.reduce((a, p) => a + (p.sweep.levels[i] ?? 0), 0), 6));
  return { sweep: { by: first.sweep.by, levels }, slos: first.slos };
}

function shardLabel(run: RunInfo): string {
  return run.shard ? `shard ${run.shard.index}/${run.shard.count}` : `run ${run.runId}`;
}

export function mergeSummaries(runs: readonly ShardRun[]): RunSummary {
  const groups = new Map<string, PhaseResult[]>();
  for (const r of runs) {
    for (const p of r.summary.phases) {
      const key = `${p.step}\u0000${p.phase}`;
      let list = groups.get(key);
      if (!list) groups.set(key, (list = []));
      list.push(p);
    }
  }
  const phases = [...groups.values()].map(mergePhases);
  // Keep run order: by step, then by the order the phases first appeared.
  const order = new Map([...groups.keys()].map((k, i) => [k, i]));
  phases.sort((a, b) => a.step - b.step || order.get(`${a.step}\u0000${a.phase}`)! - order.get(`${b.step}\u0000${b.phase}`)!);
  const serverSeries = mergeServerSeries(runs);
  return { formatVersion: RESULT_FORMAT_VERSION, runId: runs.map((r) => r.run.runId).join('+'), phases, ...(serverSeries ? { serverSeries } : {}) };
}

/** One step ▸ phase from every shard that ran it. */
export function mergePhases(parts: readonly PhaseResult[]): PhaseResult {
  const first = parts[0]!;
  const sum = (f: (p: PhaseResult) => number) => parts.reduce((a, p) => a + f(p), 0);
  const durationMs = Math.max(...parts.map((p) => p.durationMs));
  const startedAt = parts.map((p) => p.startedAt).reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
  let load: PhaseResult['load'];
  if (parts.every((p) => p.load.model === 'closed')) {
    load = { model: 'closed', concurrency: sum((p) => (p.load.model === 'closed' ? p.load.concurrency : 0)) };
  } else if (parts.every((p) => p.load.model === 'open')) {
    const open = parts.map((p) => p.load as Extract<PhaseResult['load'], { model: 'open' }>);
    const rate = round(open.reduce((a, l) => a + l.ratePerSecond, 0), 6);
    const ramps = open.filter((l) => l.rampToPerSecond !== undefined);
    load = ramps.length > 0 ? { model: 'open', ratePerSecond: rate, rampToPerSecond: round(open.reduce((a, l) => a + (l.rampToPerSecond ?? l.ratePerSecond), 0), 6) } : { model: 'open', ratePerSecond: rate };
  } else {
    load = first.load;
  }
  const aborted = parts.filter((p) => p.aborted).map((p) => p.aborted!);
  const servers = parts.map((p) => p.server).filter((s): s is ServerPhaseStats => s !== undefined);
  return {
    step: first.step,
    // Shard levels and CRDs are shares of the unsharded ones: they add back up.
    level: round(sum((p) => p.level), 6),
    crds: sum((p) => p.crds),
    load,
    phase: first.phase,
    kind: first.kind,
    limit: first.limit,
    primary: first.primary,
    startedAt,
    durationMs,
    ops: mergeOps(parts.map((p) => p.ops), durationMs),
    ...(aborted.length > 0 ? { aborted: [...new Set(aborted)].join('; ') } : {}),
    harness: mergeHarness(parts.map((p) => p.harness)),
    ...mergeSchedule(parts.map((p) => p.schedule)),
    ...(servers.length > 0 ? { server: mergeServer(servers) } : {}),
  };
}

/** The union of the shards' op rows; histograms merged exactly. */
export function mergeOps(shardOps: readonly (readonly OpSummary[])[], durationMs: number): OpSummary[] {
  const byOp = new Map<string, OpSummary[]>();
  for (const ops of shardOps) {
    for (const o of ops) {
      let list = byOp.get(o.op);
      if (!list) byOp.set(o.op, (list = []));
      list.push(o);
    }
  }
  const seconds = Math.max(1e-9, durationMs / 1000);
  return [...byOp.entries()].map(([op, parts]) => {
    const histogram = mergeHistograms(parts.map((p) => p.histogram));
    const errors: Record<string, number> = {};
    const examples: Record<string, string> = {};
    for (const p of parts) {
      for (const [cls, n] of Object.entries(p.errors)) errors[cls] = (errors[cls] ?? 0) + n;
      for (const [cls, text] of Object.entries(p.errorExamples ?? {})) examples[cls] ??= text;
    }
    const count = parts.reduce((a, p) => a + p.count, 0);
    return {
      op,
      count,
      ok: parts.reduce((a, p) => a + p.ok, 0),
      errors,
      ...(Object.keys(examples).length > 0 ? { errorExamples: examples } : {}),
      throughput: round(count / seconds, 2),
      bytes: parts.reduce((a, p) => a + p.bytes, 0),
      latencyMs: latencySummaryMs(histogram),
      histogram: encodeHistogram(histogram),
    };
  });
}

/** Decodes each encoded HDR histogram and adds them up: exact, no resampling. */
export function mergeHistograms(encoded: readonly string[]) {
  const merged = newHistogram();
  for (const e of encoded) {
    if (!e) continue;
    merged.add(decodeHistogram(e));
  }
  return merged;
}

/** Open-model scheduling lag of every part, merged exactly (present when any part has it). */
export function mergeSchedule(parts: readonly (ScheduleStats | undefined)[]): { schedule?: ScheduleStats } {
  const ss = parts.filter((s): s is ScheduleStats => s !== undefined);
  if (ss.length === 0) return {};
  const histogram = mergeHistograms(ss.map((s) => s.histogram));
  return { schedule: { started: ss.reduce((a, s) => a + s.started, 0), lagMs: latencySummaryMs(histogram), histogram: encodeHistogram(histogram) } };
}

/**
 * The worst of each figure (shards or `run --threads` workers each measured
 * their own load thread): saturated if any part was, with every part's reasons.
 * Optional figures appear only when some part has them.
 */
export function mergeHarness(parts: readonly (HarnessStats | undefined)[]): HarnessStats {
  const hs = parts.filter((h): h is HarnessStats => h !== undefined);
  const max = (f: (h: HarnessStats) => number) => (hs.length > 0 ? Math.max(...hs.map(f)) : 0);
  const maxOptional = <K extends 'eventLoopUtilization' | 'eventLoopWaitMs' | 'processCpuCores' | 'gcPauseShare' | 'gcPauseMaxMs'>(key: K) => {
    const vs = hs.map((h) => h[key]).filter((v): v is number => v !== undefined);
    return vs.length > 0 ? { [key]: Math.max(...vs) } : {};
  };
  const why = [...new Set(hs.flatMap((h) => h.saturatedBy ?? []))];
  return {
    cpuCores: max((h) => h.cpuCores),
    eventLoopDelayP99Ms: max((h) => h.eventLoopDelayP99Ms),
    eventLoopDelayMaxMs: max((h) => h.eventLoopDelayMaxMs),
    rssMaxBytes: max((h) => h.rssMaxBytes),
    saturated: hs.some((h) => h.saturated),
    ...maxOptional('eventLoopUtilization'),
    ...maxOptional('eventLoopWaitMs'),
    ...maxOptional('processCpuCores'),
    ...maxOptional('gcPauseShare'),
    ...maxOptional('gcPauseMaxMs'),
    ...(why.length > 0 ? { saturatedBy: why } : {}),
  };
}

function mergeServer(parts: readonly ServerPhaseStats[]): ServerPhaseStats {
  const max = (f: (s: ServerPhaseStats) => number) => Math.max(...parts.map(f));
  return {
    cpuCores: max((s) => s.cpuCores),
    rssBytes: max((s) => s.rssBytes),
    requests429: max((s) => s.requests429),
    apfRejected: max((s) => s.apfRejected),
    apfWaitP99Ms: max((s) => s.apfWaitP99Ms),
    etcdP99Ms: max((s) => s.etcdP99Ms),
    requestP99Ms: max((s) => s.requestP99Ms),
    objects: max((s) => s.objects),
  };
}

function mergeServerSeries(runs: readonly ShardRun[]): ServerSample[] | undefined {
  const withSeries = runs.filter((r) => r.summary.serverSeries !== undefined);
  if (withSeries.length === 0) return undefined;
  const t0 = Math.min(...runs.map((r) => Date.parse(r.run.startedAt)));
  const shifted = withSeries.map((r) => {
    const offset = (Date.parse(r.run.startedAt) - t0) / 1000;
    return r.summary.serverSeries!.map((s) => ({ ...s, t: round(s.t + offset, 1) })).sort((a, b) => a.t - b.t);
  });
  const times = [...new Set(shifted.flat().map((s) => s.t))].sort((a, b) => a - b);
  const cursor = shifted.map(() => -1);
  return times.map((t) => {
    // Each shard's latest sample at or before t.
    const latest: ServerSample[] = [];
    shifted.forEach((series, k) => {
      while (cursor[k]! + 1 < series.length && series[cursor[k]! + 1]!.t <= t) cursor[k]!++;
      if (cursor[k]! >= 0) latest.push(series[cursor[k]!]!);
    });
    return {
      t,
      rssBytes: Math.max(...latest.map((s) => s.rssBytes)),
      cpuCores: Math.max(...latest.map((s) => s.cpuCores)),
      crds: latest.reduce((a, s) => a + s.crds, 0),
      requests429: Math.max(...latest.map((s) => s.requests429)),
    };
  });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
