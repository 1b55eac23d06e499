/**
 * What a long sweep says while it installs CRDs: the step, CRDs installed,
 * the install rate, and when the step and the run should end. The run's ETA
 * adds the CRDs still to install at the current rate and, for each step left,
 * the time the last step's measuring phases took (they grow with the CRD
 * count, so it is a floor; it says "≥" until one step was measured).
 * Every phase's progress line (installs too) ends with what it waits for:
 * requests in flight, the first response pending, stages such as Established.
 */
import type { RunEvent } from '../engine/run.js';
import type { Plan } from '../scenarios/plan.js';

type ProgressEvent = Extract<RunEvent, { type: 'phase-progress' }>;

interface Started {
  at: number;
  /** CRDs installed when the phase started. */
  from: number;
}

export class InstallProgress {
  private readonly started = new Map<string, Started>();
  /** Wall time of the non-install phases, per step. */
  private readonly measuring = new Map<number, number>();

  constructor(
    private readonly plan: Plan,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether a phase installs CRDs (its progress gets an ETA). */
  installs(phase: string): boolean {
    return this.plan.phases.some((p) => p.name === phase && p.doc.op === 'create' && p.doc.of === 'crds');
  }

  phaseStarted(step: number, phase: string, total: number | undefined): void {
    const s = this.plan.steps[step];
    this.started.set(`${step}/${phase}`, { at: this.now(), from: s ? s.crds - (total ?? 0) : 0 });
  }

  phaseEnded(step: number, phase: string, durationMs: number): void {
    if (!this.installs(phase)) this.measuring.set(step, (this.measuring.get(step) ?? 0) + durationMs);
  }

  /** One line for an install phase's progress, e.g. `step 3/5 (3,500 CRDs) ▸ install: 2,740 CRDs installed (...)`. */
  line(stepIndex: number, phase: string, done: number, total: number | undefined, errors: number): string {
    const steps = this.plan.steps;
    const step = steps[stepIndex]!;
    const s = this.started.get(`${stepIndex}/${phase}`) ?? { at: this.now(), from: step.crds - (total ?? 0) };
    const elapsedS = Math.max(1e-3, (this.now() - s.at) / 1000);
    const rate = done / elapsedS;
    const installed = s.from + done;
    const parts = [`${fmt(installed)} CRDs installed`];
    if (total !== undefined) parts.push(`${fmt(done)}/${fmt(total)} this step`);
    parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s`);
    if (rate > 0 && total !== undefined) {
      const stepEta = (total - done) / rate;
      parts.push(`step ETA ${duration(stepEta)}`);
      const top = steps[steps.length - 1]!.crds;
      const stepsLeft = steps.length - stepIndex; // this one's measuring phases included
      const lastMeasured = [...this.measuring.entries()].sort((a, b) => b[0] - a[0])[0]?.[1];
      const runEta = (top - installed) / rate + ((lastMeasured ?? 0) / 1000) * stepsLeft;
      parts.push(`run ETA ${lastMeasured === undefined ? '≥' : '~'}${duration(runEta)}`);
    }
    if (errors > 0) parts.push(`${fmt(errors)} errors`);
    return `step ${stepIndex + 1}/${steps.length} (${fmt(step.crds)} CRDs) ▸ ${phase}: ${parts.join(', ')}`;
  }
}

/** A measuring phase's progress: `  create: 0/100 done, 0 errors; 3 in flight, first response pending for 2.0 s`. */
export function phaseLine(e: ProgressEvent): string {
  return `  ${e.phase}: ${fmt(e.done)}${e.total !== undefined ? `/${fmt(e.total)}` : ''} done, ${fmt(e.errors)} errors${pendingNote(e)}`;
}

/**
 * What the phase waits for, after `; `: iterations in flight, the stages the
 * operation names (`3 waiting for Established`), and how long the oldest has
 * waited: the first response when none finished, else when it passes 1 s.
 */
export function pendingNote(e: Pick<ProgressEvent, 'done' | 'inFlight' | 'oldestPendingMs' | 'waiting'>): string {
  if (e.inFlight === 0) return '';
  const parts = [`${fmt(e.inFlight)} in flight`];
  const stages = Object.entries(e.waiting ?? {});
  for (const [stage, n] of stages) parts.push(`${fmt(n)} ${stage}`);
  const oldest = e.oldestPendingMs;
  if (oldest !== undefined && e.done === 0 && stages.length === 0) parts.push(`first response pending for ${(oldest / 1000).toFixed(1)} s`);
  else if (oldest !== undefined && oldest >= 1000) parts.push(`oldest for ${(oldest / 1000).toFixed(1)} s`);
  return `; ${parts.join(', ')}`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
