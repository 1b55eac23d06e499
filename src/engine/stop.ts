/**
 * Deciding when a run stops early: the scenario's stop conditions and, on
 * the local control plane, the memory guard. kube-apiserver memory grows
 * with every CRD (about 4.6 MiB each for the crds-5000 schema on v1.37.2), so
 * a sweep that installs the next step's CRDs blind can take the machine down
 * with it: the guard projects the next step's memory from the per-CRD slope
 * measured so far and stops before it would not fit.
 *
 * Checked at three points:
 * - before a step installs CRDs: projection against the memory limit
 *   (`serverMemory`, or the guard's: what the server has plus what the
 *   machine has available, minus headroom);
 * - after each phase: every condition against what the phase measured;
 * - during a phase (guard only): the machine's available memory against a
 *   floor, the emergency brake when something else (another process, a
 *   transient peak) eats the headroom.
 */
import os from 'node:os';
import type { PlannedStep } from '../scenarios/plan.js';
import type { StopCondition } from '../scenarios/stop.js';
import type { PhaseResult, StoppedAt } from '../types/results.js';

export interface MachineMemory {
  totalBytes: number;
  /** What the kernel says could be allocated now (MemAvailable on Linux). */
  availableBytes(): number;
}

export const HOST_MEMORY: MachineMemory = { totalBytes: os.totalmem(), availableBytes: () => os.freemem() };

export interface StopOptions {
  conditions: readonly StopCondition[];
  /** Memory guard on (the local control plane, unless `--no-guard`). */
  guard: boolean;
  /** Whether `serverMemory` as a share refers to this machine (the local control plane). */
  machine: MachineMemory;
}

/** Memory the guard leaves free on the machine when it projects the next step. */
export function guardHeadroomBytes(totalBytes: number): number {
  return Math.max(2 * 2 ** 30, 0.1 * totalBytes);
}

/** Available memory below which the guard stops the phase that is running. */
export function guardFloorBytes(totalBytes: number): number {
  return Math.max(768 * 2 ** 20, 0.03 * totalBytes);
}

/** How long the last step took: its install (and how many CRDs it installed) and its measuring phases. */
export interface StepTiming {
  installMs: number;
  installedCrds: number;
  measureMs: number;
}

/** A server memory reading, with the CRDs installed at that moment. */
export interface MemoryReading {
  rssBytes: number;
  crds: number;
}

export class StopMonitor {
  /** The first reading (before the first install): the base of the per-CRD slope. */
  private base: MemoryReading | undefined;
  private latest: MemoryReading | undefined;
  private maxRss = 0;
  private readonly memoryLimitBytes: number | undefined;
  private readonly memoryCondition: StopCondition | undefined;

  constructor(
    private readonly options: StopOptions,
    private readonly startedAt: number,
  ) {
    const mem = options.conditions.find((c) => c.kind === 'serverMemory');
    if (mem?.kind === 'serverMemory') {
      this.memoryCondition = mem;
      this.memoryLimitBytes = mem.bytes ?? mem.share! * options.machine.totalBytes;
    }
  }

  /** Whether memory readings matter (a memory condition or the guard). */
  get watchesMemory(): boolean {
    return this.options.guard || this.memoryLimitBytes !== undefined;
  }

  observe(reading: MemoryReading): void {
    if (reading.rssBytes <= 0) return;
    if (!this.base) this.base = reading;
    this.latest = reading;
    this.maxRss = Math.max(this.maxRss, reading.rssBytes);
  }

  /** Bytes of server memory per CRD installed so far (undefined until CRDs were installed and measured). */
  perCrdBytes(): number | undefined {
    if (!this.base || !this.latest) return undefined;
    const dCrds = this.latest.crds - this.base.crds;
    if (dCrds <= 0) return undefined;
    return Math.max(0, this.maxRss - this.base.rssBytes) / dCrds;
  }

  /**
   * Before `next` installs CRDs: stop if its projected server memory would pass
   * the limit. `last` is the step just measured.
   */
  beforeStep(next: PlannedStep, last: PlannedStep | undefined, installed: number, timing?: StepTiming): StoppedAt | undefined {
    if (!last || next.crds <= installed) return undefined;
    return this.memoryAhead(next, last, installed) ?? this.timeAhead(next, last, installed, timing);
  }

  /**
   * `elapsed`: would the next step end past the limit? Its install at the last
   * step's rate, plus the last step's measuring time (a floor: both grow with
   * the CRD count).
   */
  private timeAhead(next: PlannedStep, last: PlannedStep, installed: number, timing: StepTiming | undefined): StoppedAt | undefined {
    const c = this.options.conditions.find((x) => x.kind === 'elapsed');
    if (c?.kind !== 'elapsed' || !timing || timing.installedCrds <= 0 || timing.installMs <= 0) return undefined;
    const perCrdMs = timing.installMs / timing.installedCrds;
    const now = performance.now() - this.startedAt;
    const end = now + perCrdMs * (next.crds - installed) + timing.measureMs;
    if (end <= c.ms) return undefined;
    return {
      step: last.index,
      level: last.level,
      crds: installed,
      condition: `${c.key}=${c.text}`,
      reason: 'elapsed',
      value: Math.round(end),
      limit: c.ms,
      unit: 'ms',
      next: { step: next.index, level: next.level, crds: next.crds, projectedEndMs: Math.round(end), installPerSecond: Math.round((1000 / perCrdMs) * 100) / 100, measureMs: Math.round(timing.measureMs) },
      ...(this.maxRss > 0 ? { serverRssBytes: this.maxRss } : {}),
    };
  }

  private memoryAhead(next: PlannedStep, last: PlannedStep, installed: number): StoppedAt | undefined {
    if (!this.latest) return undefined;
    const perCrd = this.perCrdBytes();
    if (perCrd === undefined) return undefined;
    const projected = this.maxRss + perCrd * (next.crds - installed);
    const nextInfo = { step: next.index, level: next.level, crds: next.crds, projectedBytes: Math.round(projected), perCrdBytes: Math.round(perCrd) };
    const at = { step: last.index, level: last.level, crds: installed, serverRssBytes: this.maxRss, unit: 'bytes' as const, value: Math.round(projected), next: nextInfo };
    if (this.memoryLimitBytes !== undefined && projected > this.memoryLimitBytes) {
      return { ...at, condition: `${this.memoryCondition!.key}=${this.memoryCondition!.text}`, reason: 'server-memory', limit: Math.round(this.memoryLimitBytes), ...this.machineFigures() };
    }
    if (this.options.guard) {
      const available = this.options.machine.availableBytes();
      // The server may grow into what the machine has free, minus headroom for everything else.
      const limit = this.maxRss + available - guardHeadroomBytes(this.options.machine.totalBytes);
      if (projected > limit) return { ...at, condition: 'guard', reason: 'memory-guard', limit: Math.round(limit), ...this.machineFigures(available) };
    }
    return undefined;
  }

  /** After a phase: every condition against what it measured. */
  afterPhase(step: PlannedStep, result: PhaseResult, installed: number): StoppedAt | undefined {
    if (result.server) this.observe({ rssBytes: result.server.rssBytes, crds: installed });
    const at = { step: step.index, level: step.level, crds: installed, phase: result.phase, ...(this.maxRss > 0 ? { serverRssBytes: this.maxRss } : {}) };
    for (const c of this.options.conditions) {
      switch (c.kind) {
        case 'serverMemory':
          if (this.maxRss > this.memoryLimitBytes!) return { ...at, condition: `${c.key}=${c.text}`, reason: 'server-memory', value: this.maxRss, limit: Math.round(this.memoryLimitBytes!), unit: 'bytes', ...this.machineFigures() };
          break;
        case 'latency': {
          if (c.phase !== result.phase) break;
          const op = result.ops.find((o) => o.op === result.primary);
          const value = op && op.ok > 0 ? op.latencyMs[c.percentile] : undefined;
          if (value !== undefined && value > c.ms) return { ...at, condition: `${c.key}=${c.text}`, reason: 'latency', value, limit: c.ms, unit: 'ms' };
          break;
        }
        case 'errorRate': {
          const share = failedShare(result);
          if (share !== undefined && share > c.share) return { ...at, condition: `${c.key}=${c.text}`, reason: 'error-rate', value: Math.round(share * 10_000) / 10_000, limit: c.share, unit: 'ratio' };
          break;
        }
        case 'elapsed': {
          const elapsed = performance.now() - this.startedAt;
          if (elapsed > c.ms) return { ...at, condition: `${c.key}=${c.text}`, reason: 'elapsed', value: Math.round(elapsed), limit: c.ms, unit: 'ms' };
          break;
        }
      }
    }
    return undefined;
  }

  /** During a phase (guard only): the machine is about to run out of memory. */
  emergency(step: PlannedStep, phase: string, installed: number): StoppedAt | undefined {
    if (!this.options.guard) return undefined;
    const available = this.options.machine.availableBytes();
    const floor = guardFloorBytes(this.options.machine.totalBytes);
    if (available >= floor) return undefined;
    return {
      step: step.index,
      level: step.level,
      crds: installed,
      phase,
      condition: 'guard',
      reason: 'machine-memory',
      value: available,
      limit: Math.round(floor),
      unit: 'bytes',
      ...(this.maxRss > 0 ? { serverRssBytes: this.maxRss } : {}),
      ...this.machineFigures(available),
    };
  }

  /** Stops that end the step at once (the others let the step's remaining phases measure the level reached). */
  static endsStepAtOnce(stop: StoppedAt): boolean {
    return stop.reason === 'elapsed' || stop.reason === 'machine-memory';
  }

  private machineFigures(available = this.options.machine.availableBytes()): Pick<StoppedAt, 'machineMemoryBytes' | 'availableBytes'> {
    return { machineMemoryBytes: this.options.machine.totalBytes, availableBytes: available };
  }
}

/** Non-429 failures over attempts of a phase's primary operation. */
function failedShare(result: PhaseResult): number | undefined {
  const op = result.ops.find((o) => o.op === result.primary);
  if (!op || op.count === 0) return undefined;
  let failed = 0;
  for (const [cls, n] of Object.entries(op.errors)) if (cls !== 'http-429' && cls !== 'dropped') failed += n;
  return failed / op.count;
}
