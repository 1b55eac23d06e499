/**
 * Where the server becomes the bottleneck: per phase, what saturated first;
 * along the sweep, the knee. A pure function of the result.
 *
 * Order matters: the server's findings come first (where it broke, what it
 * reached first, memory per CRD), then the caveat that the harness itself
 * saturated in some phases, whose numbers describe the client, not the server.
 */
import type { PhaseResult, RunInfo, RunSummary, StoppedAt } from '../types/results.js';
import { sweptAxis } from '../types/sweep.js';
import { partNames, type PartNames } from '../types/server-parts.js';
import { headlineText, type HeadlineFacts } from './headline.js';
import { profileFindings } from './profiles.js';

export interface AnalysisOptions {
  /** The knee: the first step whose p99 exceeds k × the first step's. */
  kneeFactor: number;
  /** Error rate (non-429 failures / attempts) that counts as breaking. */
  errorRate: number;
  /** Throughput growth below this, while offered load grew ≥ 1.5×, means it stopped growing. */
  flatThroughput: number;
}

export const DEFAULT_ANALYSIS: AnalysisOptions = { kneeFactor: 2, errorRate: 0.01, flatThroughput: 1.1 };

export type Bottleneck = 'harness' | 'flow-control' | 'apiserver-cpu' | 'apiserver-memory' | 'storage' | 'errors' | 'none';

export interface PhaseVerdict {
  step: number;
  phase: string;
  bottleneck: Bottleneck;
  because: string;
  /** When the harness saturated: what the server-side evidence points at anyway, and why. */
  behindHarness?: Bottleneck;
  behindHarnessBecause?: string;
}

export interface Knee {
  op: string;
  phase: string;
  step: number;
  level: number;
  reason: string;
}

export interface Analysis {
  headline: string;
  findings: string[];
  phases: PhaseVerdict[];
  knee?: Knee;
}

function label(kind: Bottleneck, names: PartNames): string {
  switch (kind) {
    case 'harness':
      return 'the harness itself';
    case 'flow-control':
      return 'flow control (429s and queueing: API Priority and Fairness or max-in-flight)';
    case 'apiserver-cpu':
      return `${names.apiserver} CPU`;
    case 'apiserver-memory':
      return `${names.apiserver} memory`;
    case 'storage':
      return `storage (${names.storage})`;
    case 'errors':
      return 'server errors';
    case 'none':
      return 'nothing';
  }
}

function errorCounts(phase: PhaseResult): { throttled: number; failed: number; attempts: number } {
  let throttled = 0;
  let failed = 0;
  let attempts = 0;
  for (const op of phase.ops) {
    if (op.op !== phase.primary) continue;
    attempts += op.count;
    for (const [cls, n] of Object.entries(op.errors)) {
      if (cls === 'http-429') throttled += n;
      else failed += n;
    }
  }
  return { throttled, failed, attempts };
}

/** What the harness measured about itself, and which limits it passed (src/metrics/harness.ts). */
function harnessFigures(h: NonNullable<PhaseResult['harness']>): string {
  const parts = [`the load generator used ${h.cpuCores.toFixed(2)} cores`];
  if (h.eventLoopUtilization !== undefined) parts.push(`its event loop was busy ${Math.round(h.eventLoopUtilization * 100)}% of the time`);
  parts.push(`event-loop delay p99 ${h.eventLoopDelayP99Ms} ms`);
  if (h.gcPauseShare !== undefined && h.gcPauseShare >= 0.05) parts.push(`${Math.round(h.gcPauseShare * 100)}% of the time in GC pauses (longest ${h.gcPauseMaxMs} ms)`);
  const why = h.saturatedBy && h.saturatedBy.length > 0 ? ` (${h.saturatedBy.join('; ')})` : '';
  return `${parts.join(', ')}${why}`;
}

export function phaseBottleneck(phase: PhaseResult, run: RunInfo, options = DEFAULT_ANALYSIS, ignoreHarness = false): PhaseVerdict {
  const base = { step: phase.step, phase: phase.phase };
  const h = phase.harness;
  if (h?.saturated && !ignoreHarness) {
    const behind = phaseBottleneck(phase, run, options, true);
    return {
      ...base,
      bottleneck: 'harness',
      because: `${harnessFigures(h)}${behind.bottleneck !== 'none' ? `; the server-side evidence also points at ${label(behind.bottleneck, partNames(run))}` : ''}`,
      ...(behind.bottleneck !== 'none' ? { behindHarness: behind.bottleneck, behindHarnessBecause: behind.because } : {}),
    };
  }
  const { throttled, failed, attempts } = errorCounts(phase);
  const s = phase.server;
  if (throttled > 0 || (s && (s.apfRejected > 0 || s.apfWaitP99Ms > 50))) {
    const parts = [];
    if (throttled > 0) parts.push(`${throttled} requests answered 429`);
    if (s && s.apfRejected > 0) parts.push(`${s.apfRejected} rejected by API Priority and Fairness`);
    if (s && s.apfWaitP99Ms > 50) parts.push(`APF queue wait p99 ${s.apfWaitP99Ms.toFixed(0)} ms`);
    return { ...base, bottleneck: 'flow-control', because: parts.join(', ') };
  }
  if (attempts > 0 && failed / attempts > options.errorRate) {
    return { ...base, bottleneck: 'errors', because: `${failed} of ${attempts} requests failed` };
  }
  if (s && run.target.local && s.cpuCores >= 0.8 * run.machine.cores) {
    return { ...base, bottleneck: 'apiserver-cpu', because: `${partNames(run).apiserver} used ${s.cpuCores.toFixed(2)} of ${run.machine.cores} cores` };
  }
  if (s && run.target.local && s.rssBytes >= 0.8 * run.machine.memoryBytes) {
    return { ...base, bottleneck: 'apiserver-memory', because: `${partNames(run).apiserver} resident memory ${(s.rssBytes / 2 ** 30).toFixed(1)} GiB` };
  }
  const primary = phase.ops.find((o) => o.op === phase.primary);
  // A few ms of etcd time in a fast read is the normal path, not saturation: require a slow etcd too.
  if (s && primary && s.etcdP99Ms >= 50 && s.etcdP99Ms >= 0.5 * primary.latencyMs.p99) {
    return { ...base, bottleneck: 'storage', because: `${partNames(run).storage} request p99 ${s.etcdP99Ms.toFixed(1)} ms is at least half of the client p99 ${primary.latencyMs.p99} ms` };
  }
  return { ...base, bottleneck: 'none', because: 'no limit reached' };
}

/** The first step where a primary operation breaks, by p99, throughput or errors. */
export function findKnee(phases: readonly PhaseResult[], options = DEFAULT_ANALYSIS): Knee | undefined {
  const byPhase = new Map<string, PhaseResult[]>();
  for (const p of phases) {
    const primary = p.ops.find((o) => o.op === p.primary);
    if (!primary || primary.count === 0) continue;
    byPhase.set(p.phase, [...(byPhase.get(p.phase) ?? []), p]);
  }
  const candidates: Knee[] = [];
  for (const [phaseName, series] of byPhase) {
    if (series.length < 2) continue;
    series.sort((a, b) => a.step - b.step);
    const first = series[0]!.ops.find((o) => o.op === series[0]!.primary)!;
    for (let i = 1; i < series.length; i++) {
      const p = series[i]!;
      const prev = series[i - 1]!;
      const op = p.ops.find((o) => o.op === p.primary)!;
      const prevOp = prev.ops.find((o) => o.op === prev.primary)!;
      const { failed, attempts } = errorCounts(p);
      const knee = (reason: string) => candidates.push({ op: op.op, phase: phaseName, step: p.step, level: p.level, reason });
      if (attempts > 0 && failed / attempts > options.errorRate) {
        knee(`${((failed / attempts) * 100).toFixed(1)}% of ${op.op} requests failed`);
        break;
      }
      if (first.latencyMs.p99 > 0 && op.latencyMs.p99 > options.kneeFactor * first.latencyMs.p99) {
        knee(`${op.op} p99 ${op.latencyMs.p99} ms is ${(op.latencyMs.p99 / first.latencyMs.p99).toFixed(1)}× step ${series[0]!.step}'s ${first.latencyMs.p99} ms`);
        break;
      }
      const offered = offeredLoad(p) / Math.max(1e-9, offeredLoad(prev));
      if (p.limit === 'duration' && offered >= 1.5 && prevOp.throughput > 0 && op.throughput / prevOp.throughput < options.flatThroughput) {
        knee(`${op.op} throughput stopped growing (${prevOp.throughput.toFixed(0)} → ${op.throughput.toFixed(0)}/s while offered load grew ${offered.toFixed(1)}×)`);
        break;
      }
    }
  }
  candidates.sort((a, b) => a.step - b.step);
  return candidates[0];
}

function offeredLoad(p: PhaseResult): number {
  if (!p.load) return 1;
  return p.load.model === 'closed' ? p.load.concurrency : (p.load.ratePerSecond + (p.load.rampToPerSecond ?? p.load.ratePerSecond)) / 2;
}

/** A level with its unit, by what the run swept (types/sweep.ts). */
function describeLevel(run: RunInfo, phases: readonly PhaseResult[], level: number): string {
  switch (sweptAxis(run, phases).by) {
    case 'rate':
      return `${level} requests/s`;
    case 'concurrency':
      return `${level} concurrent workers`;
    case 'crds':
      return `${level} CRDs`;
    default:
      return `level ${level}`;
  }
}

export function analyze(run: RunInfo, summary: RunSummary, options = DEFAULT_ANALYSIS): Analysis {
  const phases = summary.phases;
  const verdicts = phases.map((p) => phaseBottleneck(p, run, options));
  const findings: string[] = [];
  const names = partNames(run);
  for (const kind of ['flow-control', 'errors', 'apiserver-cpu', 'apiserver-memory', 'storage'] as const) {
    const hits = verdicts.filter((v) => v.bottleneck === kind);
    if (hits.length > 0) findings.push(`${label(kind, names)} limited ${hits.map((v) => `${v.phase}@step ${v.step} (${v.because})`).join('; ')}.`);
  }
  findings.push(...normalizedFigures(phases, names));
  const knee = findKnee(phases, options);
  findings.push(...profileFindings(summary, knee?.step));
  // The server's findings first; the harness caveat after them (issue #18: the user came for the server).
  const harness = verdicts.filter((v) => v.bottleneck === 'harness');
  if (harness.length > 0) {
    findings.push(`The harness saturated in ${harness.length} phase(s) (${harness.map((v) => `${v.phase}@${v.step}: ${v.because}`).join('; ')}): their numbers describe the client, not the server.`);
  }
  const headline = headlineText(headlineFacts(run, phases, verdicts, knee, options));
  return { headline, findings, phases: verdicts, ...(knee ? { knee } : {}) };
}

/** What limited a phase on the server side, looking behind a saturated harness. */
function serverLimit(v: PhaseVerdict): Bottleneck {
  return v.bottleneck === 'harness' ? (v.behindHarness ?? 'none') : v.bottleneck;
}

function headlineFacts(run: RunInfo, phases: readonly PhaseResult[], verdicts: readonly PhaseVerdict[], knee: Knee | undefined, options: AnalysisOptions): HeadlineFacts {
  const levels = [...new Set(phases.map((p) => p.level))].sort((a, b) => a - b);
  const level = (n: number) => describeLevel(run, phases, n);
  const kneeVerdict = knee && verdicts.find((v) => v.step === knee.step && v.phase === knee.phase);
  const kneeCause = kneeVerdict ? serverLimit(kneeVerdict) : 'none';
  const first = verdicts
    .filter((v) => serverLimit(v) !== 'none' && v !== kneeVerdict)
    .sort((a, b) => a.step - b.step)[0];
  const growth = memoryGrowth(phases);
  const names = partNames(run);
  return {
    ...(run.stoppedAt ? { stop: stopSentence(run.stoppedAt, level(run.stoppedAt.level)) } : {}),
    swept: levels.length > 1,
    ...(levels.length > 0 ? { span: { from: level(levels[0]!), to: level(levels[levels.length - 1]!) } } : {}),
    kneeFactor: options.kneeFactor,
    ...(knee
      ? {
          knee: {
            where: `${level(knee.level)} (step ${knee.step}, phase ${knee.phase})`,
            reason: knee.reason,
            ...(kneeCause !== 'none' ? { cause: label(kneeCause, names) } : {}),
            harnessToo: kneeVerdict?.bottleneck === 'harness',
          },
        }
      : {}),
    ...(first
      ? { firstLimit: { what: label(serverLimit(first), names), phase: first.phase, step: first.step, because: first.behindHarnessBecause ?? first.because, harnessToo: first.bottleneck === 'harness' } }
      : {}),
    ...(growth && growth.first !== growth.last && growth.dCrds > 0
      ? { memory: { apiserver: names.apiserver, perCrdBytes: growth.dMem / growth.dCrds, grewBytes: growth.dMem, fromCrds: growth.first.crds, toCrds: growth.last.crds } }
      : {}),
    harness: verdicts.filter((v) => v.bottleneck === 'harness').map((v) => ({ phase: v.phase, step: v.step })),
  };
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const seconds = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const thousands = (text: string) => text.replace(/\d{4,}/g, (n) => Number(n).toLocaleString('en-US'));

/**
 * One sentence: where the run stopped and why, e.g. "Stopped at 3,500 CRDs:
 * kube-apiserver memory 15.8 GiB of 23.5 GiB; the next step (5,000 CRDs) needed
 * ~22.0 GiB at 4.6 MiB per CRD, more than ...". `level` describes the step's level.
 */
export function stopSentence(s: StoppedAt, level: string): string {
  const where = `Stopped at ${thousands(level)}`;
  const rss = s.serverRssBytes !== undefined ? `kube-apiserver memory ${gib(s.serverRssBytes)}${s.machineMemoryBytes ? ` of ${gib(s.machineMemoryBytes)}` : ''}` : 'kube-apiserver memory';
  switch (s.reason) {
    case 'server-memory':
    case 'memory-guard': {
      if (!s.next) return `${where}: ${rss} passed ${s.condition} (${gib(s.limit)}) in phase ${s.phase ?? '?'}.`;
      const limit =
        s.reason === 'memory-guard'
          ? `more than the ${gib(s.limit)} this machine could give it (memory guard: ${gib(s.availableBytes ?? 0)} available, ${gib((s.serverRssBytes ?? 0) + (s.availableBytes ?? 0) - s.limit)} kept free)`
          : `more than ${s.condition} (${gib(s.limit)})`;
      return `${where}: ${rss}; the next step (${thousands(String(s.next.crds))} CRDs) needed ~${gib(s.next.projectedBytes ?? 0)} at ${mib(s.next.perCrdBytes ?? 0)} per CRD, ${limit}.`;
    }
    case 'machine-memory':
      return `${where}, during phase ${s.phase}: the machine had ${gib(s.value)} of memory available, below the memory guard's ${gib(s.limit)} floor (${rss}).`;
    case 'latency':
      return `${where}: ${s.condition.split('=')[0]!.replace('.', ' ')} ${seconds(s.value)} passed ${s.condition}.`;
    case 'error-rate':
      return `${where}: ${(s.value * 100).toFixed(1)}% of phase ${s.phase}'s requests failed, over ${s.condition}.`;
    case 'elapsed':
      if (s.next?.projectedEndMs !== undefined) {
        return `${where}: the next step (${thousands(String(s.next.crds))} CRDs) would end at ~${(s.next.projectedEndMs / 60_000).toFixed(0)} min of the run (installing at ${s.next.installPerSecond} CRDs/s, then ~${((s.next.measureMs ?? 0) / 60_000).toFixed(1)} min of measuring), past ${s.condition}${s.serverRssBytes !== undefined ? `; ${rss}` : ''}.`;
      }
      return `${where}: ${(s.value / 60_000).toFixed(1)} min elapsed, past ${s.condition} (after phase ${s.phase}).`;
  }
}

interface MemoryGrowth {
  /** The last phase with server figures of the first and of the last such step (the same phase for one step). */
  first: PhaseResult & { server: NonNullable<PhaseResult['server']> };
  last: PhaseResult & { server: NonNullable<PhaseResult['server']> };
  dCrds: number;
  dMem: number;
}

/** kube-apiserver memory between the first and the last step that recorded it. */
export function memoryGrowth(phases: readonly PhaseResult[]): MemoryGrowth | undefined {
  const byStep = new Map<number, MemoryGrowth['first']>();
  for (const p of phases) if (p.server && p.server.rssBytes > 0) byStep.set(p.step, p as MemoryGrowth['first']); // last phase of each step
  const steps = [...byStep.values()].sort((a, b) => a.step - b.step);
  if (steps.length === 0) return undefined;
  const first = steps[0]!;
  const last = steps[steps.length - 1]!;
  return { first, last, dCrds: last.crds - first.crds, dMem: last.server.rssBytes - first.server.rssBytes };
}

/**
 * Figures normalised by what the sweep piles up: API server memory per CRD
 * (slope between the first and last step) and per stored object, and the
 * discovery / OpenAPI documents' size and latency per CRD installed.
 */
export function normalizedFigures(phases: readonly PhaseResult[], names: PartNames = partNames(undefined)): string[] {
  const out: string[] = [];
  const growth = memoryGrowth(phases);
  if (growth && growth.first !== growth.last) {
    const { first, last, dCrds, dMem } = growth;
    if (dCrds > 0) out.push(`${names.apiserver} memory grew ${(dMem / 2 ** 20).toFixed(0)} MiB from ${first.crds} to ${last.crds} CRDs: ${(dMem / dCrds / 2 ** 10).toFixed(0)} KiB per CRD.`);
    const dObjects = last.server.objects - first.server.objects;
    if (dObjects > 0 && dCrds === 0) out.push(`${names.apiserver} memory per stored object: ${(dMem / dObjects / 2 ** 10).toFixed(1)} KiB.`);
  } else if (growth && growth.first.crds > 0) {
    const only = growth.first;
    out.push(`${names.apiserver} resident memory ${(only.server.rssBytes / 2 ** 20).toFixed(0)} MiB with ${only.crds} CRDs and ${only.server.objects} stored objects.`);
  }
  const docs = phases.filter((p) => p.kind === 'discovery' || p.kind === 'openapi');
  const byOp = new Map<string, PhaseResult[]>();
  for (const p of docs) byOp.set(p.primary, [...(byOp.get(p.primary) ?? []), p]);
  for (const [op, list] of byOp) {
    const parts = list
      .sort((a, b) => a.step - b.step)
      .map((p) => {
        const o = p.ops.find((x) => x.op === p.primary)!;
        const perIteration = o.count > 0 ? o.bytes / o.count : 0;
        return `${p.crds} CRDs: ${(perIteration / 2 ** 10).toFixed(0)} KiB, p50 ${o.latencyMs.p50} ms${p.crds > 0 ? ` (${(perIteration / p.crds / 2 ** 10).toFixed(2)} KiB and ${(o.latencyMs.p50 / p.crds).toFixed(3)} ms per CRD)` : ''}`;
      });
    out.push(`${op} per request — ${parts.join('; ')}.`);
  }
  return out;
}
