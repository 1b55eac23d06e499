/**
 * What every document renderer (Markdown, HTML) takes — a saved run plus
 * optional extras — and the plain-text views of it they share: the sweep,
 * run facts, the step ▸ phase ▸ operation rows, a default headline and notes.
 * Everything here is a pure function of the input; renderers only escape and
 * lay out the strings.
 */
import type { OpSummary, PhaseResult, RunInfo, RunSummary, ServerSample, StorageStats } from '../types/results.js';
import { sweptAxis, type SweepAxis } from '../types/sweep.js';
import { apiserverName } from '../types/server-parts.js';
import { describeLoad, formatBytes, formatErrors, scheduleLagCell } from './table.js';

export type { ServerSample } from '../types/results.js';

export interface ReportAnalysis {
  /** One sentence, shown at the top of the report. */
  headline: string;
  /** Plain-text observations, one per bullet. */
  findings: string[];
}

export interface ReportInput {
  run: RunInfo;
  summary: RunSummary;
  analysis?: ReportAnalysis;
  serverSeries?: ServerSample[];
}

// ---------------------------------------------------------------------------
// The sweep

export type SweepKind = SweepAxis;

export interface Sweep {
  by: SweepKind;
  /** Axis label for the swept variable, e.g. `CRDs installed`. */
  label: string;
  /** Distinct levels, ascending. */
  levels: number[];
}

const SWEEP_LABELS: Record<SweepKind, string> = {
  crds: 'CRDs installed',
  concurrency: 'concurrency (workers)',
  rate: 'offered rate (requests/s)',
  unknown: 'level',
};

/** What the run swept (types/sweep.ts: the plan's facts in the result), with its axis label. */
export function inferSweep(run: RunInfo, phases: readonly PhaseResult[]): Sweep {
  const { by, levels } = sweptAxis(run, phases);
  return { by, label: SWEEP_LABELS[by], levels };
}

/** A level with its unit: `500 CRDs`, `8 workers`, `200/s`. */
export function describeLevel(sweep: Sweep, level: number): string {
  switch (sweep.by) {
    case 'crds':
      return `${level} CRD${level === 1 ? '' : 's'}`;
    case 'concurrency':
      return `${level} worker${level === 1 ? '' : 's'}`;
    case 'rate':
      return `${level}/s`;
    default:
      return `level ${level}`;
  }
}

// ---------------------------------------------------------------------------
// Numbers

/** Milliseconds, always in ms: `3.25`, `12.5`, `2,026`. */
export function formatLatencyMs(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 1000) return ms.toFixed(1);
  return groupThousands(Math.round(ms));
}

export function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A wall-clock span: `850 ms`, `16.6 s`, `4 min 5 s`, `1 h 3 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function totalErrors(op: OpSummary): number {
  return Object.values(op.errors).reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------------------
// Run facts

export interface Fact {
  label: string;
  value: string;
}

export function runDurationMs(run: RunInfo): number | undefined {
  if (run.endedAt === undefined) return undefined;
  const ms = Date.parse(run.endedAt) - Date.parse(run.startedAt);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The server spec as given and resolved (local control plane runs), and whether controllers ran. */
function serverFacts(run: ReportInput['run']): Fact[] {
  const server = run.server;
  if (!server) return [];
  const built =
    server.kind === 'source' && server.source
      ? `source tree ${server.source.dir} (${server.source.layout === 'checkout' ? 'git checkout with ./staging' : `module copy, staging modules ${server.version} from the module proxy`}; ${
          server.source.git ? `git ${server.source.git.describe}, ` : ''
        }${server.source.patched === undefined ? '' : server.source.patched ? 'patched, ' : 'unpatched, '}${server.source.hashMethod} ${server.source.hash.slice(0, 16)})`
      : server.kind === 'binary'
        ? `prebuilt binary ${server.kubeApiserver.path}`
        : `release ${server.version} from the Go module proxy`;
  return [
    { label: 'Server spec', value: `${server.given || server.spec} → ${server.label}` },
    {
      label: 'Server build',
      value: `${built}; ${server.flavour === 'crd-only' ? 'the CRD-only API server (k8s.io/apiextensions-apiserver alone, no core API)' : 'kube-apiserver'} sha256 ${server.kubeApiserver.sha256.slice(0, 16)}${server.args.length > 0 ? `; flags ${server.args.join(' ')}` : ''}`,
    },
    ...substitutionFacts(server),
    {
      label: 'Controllers',
      value:
        server.controllers === 'kcm'
          ? `kube-controller-manager beside the API server (as in a cluster)${server.kubeControllerManager ? `, sha256 ${server.kubeControllerManager.sha256.slice(0, 16)}` : ''}`
          : 'none: the bare API server (no garbage collector, quota or namespace controllers)',
    },
  ];
}

/** Storage and tenants of the spec, when they differ from one kube-apiserver on etcd. */
function substitutionFacts(server: NonNullable<ReportInput['run']['server']>): Fact[] {
  const facts: Fact[] = [];
  if (server.storage === 'kine') facts.push({ label: 'Storage substitute', value: `kine over SQLite instead of etcd${server.kine ? `, sha256 ${server.kine.sha256.slice(0, 16)}` : ''}` });
  if ((server.tenants ?? 1) > 1) facts.push({ label: 'Tenants', value: `${server.tenants} API servers on one storage, each under --etcd-prefix=/tenant-<i>; results merged over them, each tenant apart under Tenants` });
  return facts;
}

/** The storage process over the run, one line. */
export function storageFactValue(s: StorageStats): string {
  const db = s.dbSizeBytes !== undefined ? `, database ${formatBytes(s.dbSizeBytes)}` : '';
  return `${s.kind}: memory ${formatBytes(s.rssStartBytes)} at start, peak ${formatBytes(s.rssMaxBytes)}, ${formatBytes(s.rssEndBytes)} at end; ${s.cpuSeconds.toFixed(1)} CPU-seconds over the run${db} (${s.samples} samples)`;
}

export function runFacts(input: ReportInput): Fact[] {
  const { run } = input;
  const sweep = inferSweep(run, input.summary.phases);
  const duration = runDurationMs(run);
  const facts: Fact[] = [
    { label: 'Scenario', value: `${run.scenario.name} (${run.scenario.file})` },
    { label: 'Run', value: run.runId },
    {
      label: 'Target',
      value: `${run.target.server} (${run.target.local ? 'local control plane' : `context ${run.target.context}`})`,
    },
    { label: 'Server version', value: `kube-apiserver ${run.target.version.gitVersion}` },
    ...serverFacts(run),
    { label: 'Status', value: run.reason ? `${run.status}: ${run.reason}` : run.status },
    {
      label: 'Started',
      value: duration === undefined ? `${run.startedAt} (not finished)` : `${run.startedAt}, ran ${formatDuration(duration)}`,
    },
    {
      label: 'Sweep',
      value:
        sweep.levels.length === 0
          ? 'no steps recorded'
          : `${sweep.label}: ${sweep.levels.map((l) => describeLevel(sweep, l)).join(', ')}`,
    },
    {
      label: 'Machine',
      value: `${run.machine.cores} cores, ${formatBytes(run.machine.memoryBytes)}, ${run.machine.platform}`,
    },
    { label: 'Tool', value: `${run.tool.name} ${run.tool.version}, Node ${run.tool.node}` },
  ];
  if (run.storage) facts.push({ label: 'Storage', value: storageFactValue(run.storage) });
  if (run.skipped && run.skipped.length > 0) facts.push({ label: 'Skipped', value: run.skipped.join('; ') });
  if (run.cleanup) {
    facts.push({
      label: 'Cleanup',
      value: run.cleanup.skipped
        ? 'skipped'
        : `${run.cleanup.deleted} deleted, ${run.cleanup.leftover} left over`,
    });
  }
  return facts;
}

// ---------------------------------------------------------------------------
// Steps and rows

export interface StepGroup {
  step: number;
  level: number;
  /** CRDs installed during the step, when recorded. */
  crds: number | undefined;
  phases: PhaseResult[];
}

/** Phases grouped by step, in step order; phases keep their recorded order. */
export function groupSteps(phases: readonly PhaseResult[]): StepGroup[] {
  const byStep = new Map<number, StepGroup>();
  for (const p of phases) {
    let g = byStep.get(p.step);
    if (!g) {
      g = { step: p.step, level: p.level, crds: p.crds, phases: [] };
      byStep.set(p.step, g);
    }
    g.phases.push(p);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Heading of a step: `Step 1 · 100 CRDs` or `Step 0 · 50/s · 8 CRDs`. */
export function stepTitle(sweep: Sweep, g: StepGroup): string {
  const parts = [`Step ${g.step}`, describeLevel(sweep, g.level)];
  if (sweep.by !== 'crds' && g.crds !== undefined) parts.push(`${g.crds} CRD${g.crds === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

/** A phase's op rows, its primary first. */
export function orderedOps(phase: PhaseResult): OpSummary[] {
  const primary = phase.ops.filter((o) => o.op === phase.primary);
  return [...primary, ...phase.ops.filter((o) => o.op !== phase.primary)];
}

export interface OpRow {
  phase: PhaseResult;
  op: OpSummary;
  primary: boolean;
}

export function stepRows(g: StepGroup): OpRow[] {
  return g.phases.flatMap((phase) => orderedOps(phase).map((op) => ({ phase, op, primary: op.op === phase.primary })));
}

export interface OpColumn {
  header: string;
  align: 'left' | 'right';
  /** Plain text; the renderer escapes it. */
  value: (r: OpRow) => string;
  /** Marks cells worth highlighting (non-zero errors). */
  alert?: (r: OpRow) => boolean;
}

function hasLatency(op: OpSummary): boolean {
  return op.latencyMs.max > 0;
}

function latencyCell(key: 'p50' | 'p90' | 'p99' | 'max'): (r: OpRow) => string {
  return (r) => (hasLatency(r.op) ? formatLatencyMs(r.op.latencyMs[key]) : '');
}

export const OP_COLUMNS: readonly OpColumn[] = [
  { header: 'phase', align: 'left', value: (r) => r.phase.phase },
  { header: 'operation', align: 'left', value: (r) => r.op.op },
  { header: 'load', align: 'left', value: (r) => (r.phase.load ? describeLoad(r.phase.load) : '') },
  { header: 'count', align: 'right', value: (r) => groupThousands(r.op.count) },
  { header: 'errors', align: 'left', value: (r) => formatErrors(r.op.errors), alert: (r) => totalErrors(r.op) > 0 },
  { header: 'p50 ms', align: 'right', value: latencyCell('p50') },
  { header: 'p90 ms', align: 'right', value: latencyCell('p90') },
  { header: 'p99 ms', align: 'right', value: latencyCell('p99') },
  { header: 'max ms', align: 'right', value: latencyCell('max') },
  { header: 'sched lag p99 ms', align: 'right', value: (r) => scheduleLagCell(r.phase, r.op) },
  { header: 'ops/s', align: 'right', value: (r) => r.op.throughput.toFixed(1) },
  { header: 'bytes', align: 'right', value: (r) => (r.op.bytes > 0 ? formatBytes(r.op.bytes) : '') },
];

/** Phrase for a phase whose client (the harness) was saturated, if it was. */
function saturationNote(p: PhaseResult): string | undefined {
  const h = p.harness as PhaseResult['harness'] | undefined;
  if (!h?.saturated) return undefined;
  const busy = h.eventLoopUtilization !== undefined ? `, event loop busy ${Math.round(h.eventLoopUtilization * 100)}%` : '';
  const why = h.saturatedBy && h.saturatedBy.length > 0 ? `; ${h.saturatedBy.join('; ')}` : '';
  return (
    `the load generator was saturated during ${p.phase} (CPU ${h.cpuCores.toFixed(2)} cores, event-loop delay p99 ` +
    `${formatLatencyMs(h.eventLoopDelayP99Ms)} ms${why || busy}): its numbers may describe the client, not the server`
  );
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * Notes under a step's table: aborted phases, phases that recorded nothing,
 * a saturated harness, and the first error message of each error class.
 */
export function stepNotes(g: StepGroup): string[] {
  const notes: string[] = [];
  const examples: string[] = [];
  for (const p of g.phases) {
    if (p.aborted) notes.push(`${p.phase} aborted: ${p.aborted}`);
    else if (p.ops.length === 0) notes.push(`${p.phase} recorded no operations (${formatDuration(p.durationMs)})`);
    const sat = saturationNote(p);
    if (sat) notes.push(sat);
    for (const op of p.ops) {
      for (const [cls, message] of Object.entries(op.errorExamples ?? {})) {
        examples.push(`${p.phase} ▸ ${op.op} ${cls}: ${clip(message, 200)}`);
      }
    }
  }
  notes.push(...examples.slice(0, 10));
  if (examples.length > 10) notes.push(`… and ${examples.length - 10} more error examples in summary.json`);
  return notes;
}

// ---------------------------------------------------------------------------
// Primary latency by level (the report's main curve)

export interface PrimarySeries {
  /** `phase` when it names its primary op, else `phase (primary)`. */
  name: string;
  phase: string;
  primary: string;
  /** One point per step that measured the primary op with latencies. */
  points: { step: number; level: number; p99: number; throughput: number; load: PhaseResult['load'] | undefined }[];
}

/** One series per phase (each has one primary op), in first-seen order. */
export function primarySeries(phases: readonly PhaseResult[]): PrimarySeries[] {
  const out = new Map<string, PrimarySeries>();
  for (const p of phases) {
    const key = `${p.phase}\u0000${p.primary}`;
    let s = out.get(key);
    if (!s) {
      s = { name: p.primary === p.phase ? p.phase : `${p.phase} (${p.primary})`, phase: p.phase, primary: p.primary, points: [] };
      out.set(key, s);
    }
    const op = p.ops.find((o) => o.op === p.primary);
    if (op && hasLatency(op)) {
      s.points.push({ step: p.step, level: p.level, p99: op.latencyMs.p99, throughput: op.throughput, load: p.load });
    }
  }
  for (const s of out.values()) s.points.sort((a, b) => a.step - b.step);
  return [...out.values()];
}

// ---------------------------------------------------------------------------
// Headline and notes

/** A one-sentence summary of the run, for when no analysis is supplied. */
export function defaultHeadline(input: ReportInput): string {
  const { run, summary } = input;
  const sweep = inferSweep(run, summary.phases);
  let measured = 0;
  let errors = 0;
  let worst: { p99: number; op: string; phase: PhaseResult } | undefined;
  for (const p of summary.phases) {
    const op = p.ops.find((o) => o.op === p.primary);
    if (!op) continue;
    measured += op.count;
    errors += totalErrors(op);
    if (hasLatency(op) && (!worst || op.latencyMs.p99 > worst.p99)) worst = { p99: op.latencyMs.p99, op: op.op, phase: p };
  }
  const steps = sweep.levels.length;
  const span =
    steps === 0
      ? 'no steps'
      : steps === 1
        ? `1 step at ${describeLevel(sweep, sweep.levels[0]!)}`
        : `${steps} steps from ${describeLevel(sweep, sweep.levels[0]!)} to ${describeLevel(sweep, sweep.levels[steps - 1]!)}`;
  const slowest = worst
    ? `; slowest p99 ${formatLatencyMs(worst.p99)} ms (${worst.op}, step ${worst.phase.step} at ${describeLevel(sweep, worst.phase.level)})`
    : '';
  return (
    `${run.scenario.name} against kube-apiserver ${run.server ? run.server.label : run.target.version.gitVersion} ${run.status === 'complete' ? 'completed' : `ended ${run.status}`}: ` +
    `${span}, ${groupThousands(measured)} measured operations, ${groupThousands(errors)} error${errors === 1 ? '' : 's'}${slowest}.`
  );
}

/** Observations derived from the data alone, for when no analysis is supplied. */
export function automaticNotes(input: ReportInput): string[] {
  const { run, summary } = input;
  const sweep = inferSweep(run, summary.phases);
  const notes: string[] = [];
  if (run.status !== 'complete') notes.push(`The run ended ${run.status}${run.reason ? `: ${run.reason}` : ''}.`);
  for (const p of summary.phases) {
    if (p.aborted) notes.push(`Step ${p.step} (${describeLevel(sweep, p.level)}) ▸ ${p.phase} aborted: ${p.aborted}.`);
  }
  const errorRows: string[] = [];
  for (const p of summary.phases) {
    for (const op of p.ops) {
      if (totalErrors(op) > 0) {
        errorRows.push(`Step ${p.step} (${describeLevel(sweep, p.level)}) ▸ ${p.phase} ▸ ${op.op}: ${formatErrors(op.errors)} of ${op.count}.`);
      }
    }
  }
  notes.push(...errorRows.slice(0, 8));
  if (errorRows.length > 8) notes.push(`… and ${errorRows.length - 8} more operations with errors.`);
  for (const s of primarySeries(summary.phases)) {
    const first = s.points[0];
    const last = s.points[s.points.length - 1];
    if (!first || !last || first === last || first.p99 <= 0) continue;
    const ratio = last.p99 / first.p99;
    if (ratio >= 2 || ratio <= 0.5) {
      notes.push(
        `${s.name} p99 went from ${formatLatencyMs(first.p99)} ms at ${describeLevel(sweep, first.level)} ` +
          `to ${formatLatencyMs(last.p99)} ms at ${describeLevel(sweep, last.level)} (${ratio.toFixed(1)}×).`,
      );
    }
  }
  if (run.cleanup && run.cleanup.leftover > 0) notes.push(`Cleanup left ${run.cleanup.leftover} objects behind.`);
  // The caveat about the harness comes after what the data says about the server.
  const saturated = summary.phases.filter((p) => saturationNote(p) !== undefined);
  if (saturated.length > 0) {
    notes.push(
      `The load generator was saturated in ${saturated.length} phase${saturated.length === 1 ? '' : 's'} ` +
        `(${saturated.map((p) => `step ${p.step} ▸ ${p.phase}`).join(', ')}): those numbers may describe the client, not the server.`,
    );
  }
  if (notes.length === 0) notes.push('No errors and no aborted phases.');
  return notes;
}

/** Server samples with `t` in seconds since the run started, in time order. */
export function normalizedServerSeries(input: ReportInput): ServerSample[] {
  return normalizeSeries(input.serverSeries ?? [], input.run.startedAt);
}

/**
 * Each API server's samples with its name: with tenants=N, every tenant's own
 * series (the run's series is tenant 1's alone); otherwise the run's series.
 */
export function apiserverSeries(input: ReportInput): { name: string; samples: ServerSample[] }[] {
  const tenants = input.summary.tenants ?? [];
  if (tenants.length > 1) return tenants.map((t) => ({ name: apiserverName(input.run, t.index), samples: normalizeSeries(t.serverSeries, input.run.startedAt) })).filter((s) => s.samples.length > 0);
  const samples = normalizedServerSeries(input);
  return samples.length > 0 ? [{ name: apiserverName(input.run), samples }] : [];
}

function normalizeSeries(series: readonly ServerSample[], startedAt: string): ServerSample[] {
  const start = Date.parse(startedAt);
  return series
    .map((s) => (s.t > 1e11 && Number.isFinite(start) ? { ...s, t: (s.t - start) / 1000 } : s))
    .filter((s) => Number.isFinite(s.t))
    .sort((a, b) => a.t - b.t);
}
