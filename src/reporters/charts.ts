/**
 * Which of the report's charts have something to show. A chart that would be
 * empty or flat at zero (no 429s and no errors; throughput vs offered load on
 * a sweep whose axis is not the offered load) is not drawn: both renderers
 * say so in one line instead (issue #18). A pure function of the input.
 */
import type { PhaseResult } from '../types/results.js';
import { loadFollowers } from '../types/sweep.js';
import { apiserverSeries, inferSweep, normalizedServerSeries, primarySeries, type ReportInput, type Sweep } from './view.js';

export type ChartId = 'chart-latency' | 'chart-throughput' | 'chart-memory' | 'chart-errors' | 'chart-server';

export interface ChartSlot {
  id: ChartId;
  title: string;
  /** Why there is nothing to draw; absent when the chart is drawn. */
  nothing?: string;
}

function latencySlot(sweep: Sweep, phases: readonly PhaseResult[]): ChartSlot {
  const title = `p99 latency vs ${sweep.label}`;
  const drawn = primarySeries(phases).some((s) => s.points.length > 0);
  return { id: 'chart-latency', title, ...(drawn ? {} : { nothing: 'no operation recorded latencies.' }) };
}

function throughputSlot(sweep: Sweep, phases: readonly PhaseResult[]): ChartSlot {
  const title = 'Throughput vs offered load';
  if (sweep.by !== 'concurrency' && sweep.by !== 'rate') {
    return { id: 'chart-throughput', title, nothing: `this run sweeps ${sweep.label}, not the offered load; per-phase throughput is in the tables.` };
  }
  if (loadFollowers(phases, sweep.by).length === 0) {
    return { id: 'chart-throughput', title, nothing: 'no phase takes its load from the sweep (every phase sets its own).' };
  }
  return { id: 'chart-throughput', title };
}

/** Errors of the primary operations, every class (429s included). */
export function primaryErrors(p: PhaseResult): number {
  const op = p.ops.find((o) => o.op === p.primary);
  return op ? Object.values(op.errors).reduce((a, b) => a + b, 0) : 0;
}

function serverSlots(input: ReportInput): ChartSlot[] {
  const samples = normalizedServerSeries(input);
  const servers = apiserverSeries(input);
  const memory: ChartSlot = { id: 'chart-memory', title: servers.length === 1 ? `${servers[0]!.name} memory` : 'API server memory' };
  const errors: ChartSlot = { id: 'chart-errors', title: '429s and errors over time' };
  if (samples.length === 0) return [{ id: 'chart-server', title: 'API server memory, 429s and errors', nothing: 'no server metrics in this run.' }];
  const server429 = Math.max(0, samples[samples.length - 1]!.requests429 - samples[0]!.requests429);
  const client = input.summary.phases.reduce((a, p) => a + primaryErrors(p), 0);
  if (server429 === 0 && client === 0) return [memory, { ...errors, nothing: 'no 429s and no errors during the run.' }];
  return [memory, errors];
}

/** The charts in the order the HTML report shows them (the two server charts are one slot without server samples). */
export function chartSlots(input: ReportInput): ChartSlot[] {
  const sweep = inferSweep(input.run, input.summary.phases);
  return [latencySlot(sweep, input.summary.phases), throughputSlot(sweep, input.summary.phases), ...serverSlots(input)];
}

/** One line a chart with nothing to show: `Throughput vs offered load: nothing to chart, this run sweeps …`. */
export function nothingLine(slot: ChartSlot): string {
  return `${slot.title}: nothing to chart, ${slot.nothing ?? ''}`;
}
