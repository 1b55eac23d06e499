/**
 * Merging what the load threads of `run --threads N` report (threads.ts) into
 * the events of one unthreaded run: a phase starts when every thread still in
 * the run has started it, progress adds up (at most once per progress
 * interval), interval rows stay per thread, and the phases' results are merged
 * per step ▸ phase group when the barrier closes it (histograms exactly,
 * src/shard/merge.ts), with the server's figures over the threads' common
 * window. Never prints.
 */
import type { ServerSnapshot } from '../metrics/server-metrics.js';
import { loadAt, type Plan, type PlannedPhase } from '../scenarios/plan.js';
import { mergePhases } from '../shard/merge.js';
import type { PhaseResult } from '../types/results.js';
import { offeredLabel, type RunEvent } from './run.js';
import { phaseStats } from './server-sampler.js';

/** The events of an unthreaded run, merged over the threads; interval rows stay per thread. */
export type ThreadsEvent = Exclude<RunEvent, { type: 'interval' }> | (Extract<RunEvent, { type: 'interval' }> & { thread: number });

/** One step ▸ phase group: the host phase and its companions, run side by side. */
export interface PhaseGroup {
  step: number;
  host: string;
}

/** What the merger needs to know of a thread: its index, and the CRDs it last saw (the server sampler reads them). */
export interface ThreadTally {
  index: number;
  crds: number;
}

const keyOf = (step: number, phase: string) => `${step}\u0000${phase}`;

type ProgressEvent = Extract<RunEvent, { type: 'phase-progress' }>;

/** The threads' progress on one phase as one event: counts added up, the oldest wait the longest, stages added by name. */
export function mergeProgress(all: readonly ProgressEvent[]): ProgressEvent {
  const sum = (f: (x: ProgressEvent) => number) => all.reduce((a, x) => a + f(x), 0);
  const total = all.every((x) => x.total !== undefined) ? sum((x) => x.total!) : undefined;
  const oldest = Math.max(-1, ...all.map((x) => x.oldestPendingMs ?? -1));
  const waiting: Record<string, number> = {};
  for (const x of all) for (const [stage, n] of Object.entries(x.waiting ?? {})) waiting[stage] = (waiting[stage] ?? 0) + n;
  return {
    ...all[0]!,
    done: sum((x) => x.done),
    errors: sum((x) => x.errors),
    inFlight: sum((x) => x.inFlight),
    total,
    oldestPendingMs: oldest >= 0 ? oldest : undefined,
    waiting: Object.keys(waiting).length > 0 ? waiting : undefined,
  };
}

export class ThreadMerge {
  /** The merged phases, in the order their groups closed. */
  readonly phases: PhaseResult[] = [];
  /** Each thread's phase results, by step ▸ phase, until their group closes. */
  private readonly parts = new Map<string, PhaseResult[]>();
  private readonly starts = new Map<string, { threads: number; total: number | undefined }>();
  private readonly progress = new Map<string, { last: number; byThread: Map<number, ProgressEvent> }>();
  private readonly byName = new Map<string, PlannedPhase>();
  /** How many threads start the next group (those not at their end). */
  expectedStarts: number;

  constructor(
    private readonly plan: Plan,
    threads: number,
    private readonly emit: (event: ThreadsEvent) => void,
    private readonly progressMs: number,
  ) {
    this.expectedStarts = threads;
    for (const host of plan.phases) {
      this.byName.set(host.name, host);
      for (const c of host.companions) this.byName.set(c.name, c);
    }
  }

  /** One event of thread `t`, merged into the run's. */
  onEvent(t: ThreadTally, label: string, event: RunEvent): void {
    switch (event.type) {
      case 'phase-start':
        this.started(event);
        break;
      case 'phase-progress':
        this.progressed(t, event);
        break;
      case 'phase-end': {
        const key = keyOf(event.result.step, event.result.phase);
        const list = this.parts.get(key) ?? [];
        list.push(event.result);
        this.parts.set(key, list);
        break;
      }
      case 'interval':
        if (event.crds !== undefined) t.crds = event.crds;
        this.emit({ ...event, step: this.plan.steps[event.step.index] ?? event.step, thread: t.index });
        break;
      case 'message':
        this.emit({ type: 'message', message: `${label}: ${event.message}` });
    }
  }

  private started(event: Extract<RunEvent, { type: 'phase-start' }>): void {
    const key = keyOf(event.step.index, event.phase);
    const s = this.starts.get(key) ?? { threads: 0, total: 0 };
    s.threads++;
    s.total = s.total === undefined || event.total === undefined ? undefined : s.total + event.total;
    this.starts.set(key, s);
    const step = this.plan.steps[event.step.index];
    const phase = this.byName.get(event.phase);
    if (s.threads === this.expectedStarts && step && phase) {
      this.emit({ type: 'phase-start', step, phase: event.phase, load: offeredLabel(loadAt(phase, step)), ...(s.total !== undefined ? { total: s.total } : {}) });
    }
  }

  private progressed(t: ThreadTally, event: Extract<RunEvent, { type: 'phase-progress' }>): void {
    const key = keyOf(event.step.index, event.phase);
    let p = this.progress.get(key);
    if (!p) this.progress.set(key, (p = { last: 0, byThread: new Map() }));
    p.byThread.set(t.index, event);
    const now = performance.now();
    if (now - p.last < this.progressMs * 0.9) return;
    p.last = now;
    this.emit({ ...mergeProgress([...p.byThread.values()]), step: this.plan.steps[event.step.index] ?? event.step });
  }

  /** The merged results of one step ▸ phase group, with the server's figures over the threads' common window. */
  finishGroup(group: PhaseGroup, before: ServerSnapshot | undefined, after: ServerSnapshot | undefined): void {
    const host = this.byName.get(group.host);
    const names = [group.host, ...(host?.companions.map((c) => c.name) ?? [])];
    for (const name of names) {
      const key = keyOf(group.step, name);
      const list = this.parts.get(key);
      if (!list || list.length === 0) continue;
      this.parts.delete(key);
      const { server: _none, ...merged } = mergePhases(list);
      const result: PhaseResult = before && after ? { ...merged, server: phaseStats(before, after) } : merged;
      this.phases.push(result);
      this.emit({ type: 'phase-end', result });
    }
  }

  /** Whatever no barrier closed (threads that died mid-phase): merged without server figures. */
  finishRest(current: PhaseGroup | undefined): void {
    if (current) this.finishGroup(current, undefined, undefined);
    for (const [key, list] of this.parts) {
      const [step, phase] = key.split('\u0000');
      if (list.length > 0) this.finishGroup({ step: Number(step), host: phase! }, undefined, undefined);
    }
  }
}
