/**
 * The terminal table: one row per step ▸ phase ▸ operation. A pure function
 * of the result; the CLI decides where it goes.
 */
import type { OpSummary, PhaseResult } from '../types/results.js';

export interface Column<T> {
  header: string;
  align?: 'left' | 'right';
  value: (row: T) => string;
}

export function renderColumns<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.align === 'left' ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface PhaseOpRow {
  phase: PhaseResult;
  op: OpSummary;
}

export function formatMs(ms: number): string {
  if (ms === 0) return '-';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 1000) return ms.toFixed(1);
  return `${(ms / 1000).toFixed(2)}s`;
}

export function formatErrors(errors: Record<string, number>): string {
  const entries = Object.entries(errors);
  return entries.length === 0 ? '0' : entries.map(([k, v]) => `${v} ${k}`).join(', ');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function describeLoad(load: PhaseResult['load']): string {
  if (load.model === 'closed') return `c=${load.concurrency}`;
  return load.rampToPerSecond === undefined ? `${load.ratePerSecond}/s` : `${load.ratePerSecond}→${load.rampToPerSecond}/s`;
}

/** Whether an op row carries latencies (events such as bookmarks are only counted). */
function hasLatency(op: OpSummary): boolean {
  return op.latencyMs.max > 0;
}

/**
 * The open model's scheduling lag p99 (intended start → sent), on the
 * phase's primary row: the harness's own share of that row's latencies.
 */
export function scheduleLagCell(phase: PhaseResult, op: OpSummary): string {
  if (!phase.schedule || op.op !== phase.primary || phase.schedule.started === 0) return '';
  const ms = phase.schedule.lagMs.p99;
  return ms < 0.01 ? '<0.01' : formatMs(ms);
}

export const PHASE_COLUMNS: readonly Column<PhaseOpRow>[] = [
  { header: 'step', value: (r) => String(r.phase.step) },
  { header: 'crds', value: (r) => String(r.phase.crds) },
  { header: 'load', value: (r) => describeLoad(r.phase.load) },
  { header: 'phase', align: 'left', value: (r) => r.phase.phase },
  { header: 'operation', align: 'left', value: (r) => r.op.op },
  { header: 'count', value: (r) => String(r.op.count) },
  { header: 'errors', align: 'left', value: (r) => formatErrors(r.op.errors) },
  { header: 'p50 ms', value: (r) => (hasLatency(r.op) ? formatMs(r.op.latencyMs.p50) : '') },
  { header: 'p99 ms', value: (r) => (hasLatency(r.op) ? formatMs(r.op.latencyMs.p99) : '') },
  { header: 'max ms', value: (r) => (hasLatency(r.op) ? formatMs(r.op.latencyMs.max) : '') },
  { header: 'lag p99 ms', value: (r) => scheduleLagCell(r.phase, r.op) },
  { header: 'ops/s', value: (r) => r.op.throughput.toFixed(1) },
  { header: 'received', value: (r) => (r.op.bytes > 0 ? formatBytes(r.op.bytes) : '') },
];

export function phaseRows(phases: readonly PhaseResult[]): PhaseOpRow[] {
  return phases.flatMap((phase) => phase.ops.map((op) => ({ phase, op })));
}

export function renderPhaseTable(phases: readonly PhaseResult[]): string {
  return renderColumns(phaseRows(phases), PHASE_COLUMNS);
}
