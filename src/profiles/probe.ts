/**
 * `run --profile`: while each step ▸ phase group runs, CPU profiles of every
 * source; at the end of each step, a heap profile. The probe follows the run
 * through hooks the engine already has (`beforePhase`, `afterPhases`) and its
 * phase-start / phase-end events; the engine knows nothing about it.
 *
 * A CPU profile is a request that blocks for N seconds (`?seconds=N`, whole
 * seconds) and cannot be cut short without losing it, and a Go process runs one
 * CPU profile at a time. So a phase is covered by consecutive requests: one for
 * the phase's known duration (≤ 30 s each), or 1, 2, 4, 8, 8… s for phases that
 * run until their iterations are done. At the phase's end no new request
 * starts; before the next phase group starts, the probe waits for the running
 * one (≤ 8 s, idle server time: it adds few samples) so no profile spans two
 * phases. The requests' profiles are merged into one file per phase.
 *
 * Heap profiles use `?gc=1` (a GC first), so `inuse_space` is live memory.
 * A source that denies profiling (403 on a remote cluster, etcd without
 * --enable-pprof) is reported once and skipped; the run goes on.
 */
import type { CpuProfileResult, HeapProfileResult, HeapGrowth, ProfilesResult } from '../types/results.js';
import { attribute, heapGrowth, type Attribution } from './attribute.js';
import { decodeProfile, mergeProfiles } from './decode.js';
import { ProfileUnavailable, type ProfileSource } from './sources.js';

export interface ProbeStep {
  index: number;
  level: number;
  crds: number;
}

export interface ProbeOptions {
  sources: readonly ProfileSource[];
  cpu: boolean;
  heap: boolean;
  /** Known duration of a (host) phase, ms, when it is duration-bound. */
  durationOf: (phase: string) => number | undefined;
  /** Longest single CPU profile request, seconds (below the request timeout). */
  maxProfileSeconds?: number;
  /** Aborts profiles in flight (Ctrl-C). */
  signal: AbortSignal;
  /** Stores a raw profile under the run directory (relative path). */
  write: (file: string, bytes: Uint8Array) => Promise<void>;
  onMessage: (message: string) => void;
}

/** Consecutive CPU profile requests of one source during one phase group. */
interface CpuCapture {
  source: ProfileSource;
  chunks: Uint8Array[];
  seconds: number;
  done: Promise<void>;
}

interface Group {
  step: ProbeStep;
  host: string;
  phases: string[];
  startedAt?: number;
  ended: AbortController;
  captures: CpuCapture[];
}

/**
 * `profiles/step-S/<phase>.cpu.pb.gz` and `profiles/step-S/heap.pb.gz` for kube-apiserver,
 * the same under `profiles/step-S/<source>/` for the other sources (etcd, kine).
 */
export function profileFile(step: number, source: ProfileSource, name: string): string {
  return source.name === 'kube-apiserver' ? `profiles/step-${step}/${name}` : `profiles/step-${step}/${source.name}/${name}`;
}

/** Iteration-bound phases: profile requests of 1, 2, 4, 8, 8, … seconds. */
const TAIL_SECONDS = [1, 2, 4, 8];

export class ProfileProbe {
  private readonly unavailable = new Map<string, string>();
  private readonly cpu: CpuProfileResult[] = [];
  private readonly heap: HeapProfileResult[] = [];
  private readonly growth: HeapGrowth[] = [];
  private readonly lastHeap = new Map<string, { step: number; crds: number; attribution: Attribution }>();
  private group: Group | undefined;
  private step: ProbeStep | undefined;
  private readonly warned = new Set<string>();

  constructor(private readonly options: ProbeOptions) {}

  /** Engine hook: awaited before each step ▸ phase group starts. */
  readonly beforePhase = async (step: ProbeStep, phase: string): Promise<void> => {
    await this.closeGroup();
    if (this.step && this.step.index !== step.index) await this.takeHeap(this.step);
    this.step = step;
    this.group = { step, host: phase, phases: [], ended: new AbortController(), captures: [] };
  };

  /** Engine hook: awaited once after the last phase, before cleanup. */
  readonly afterPhases = async (): Promise<void> => {
    await this.closeGroup();
    if (this.step && !this.options.signal.aborted) await this.takeHeap(this.step);
    this.step = undefined;
  };

  /** From the run's phase-start events: the group's first start starts its CPU profiles. */
  phaseStarted(phase: string): void {
    const g = this.group;
    if (!g || g.phases.includes(phase)) return;
    g.phases.push(phase);
    if (g.startedAt !== undefined || !this.options.cpu) return;
    g.startedAt = performance.now();
    for (const source of this.sourcesFor('cpu')) g.captures.push(this.captureCpu(source, g));
  }

  /** From the run's phase-end events: when the host ends, no new profile request starts. */
  phaseEnded(phase: string): void {
    if (this.group && phase === this.group.host) this.group.ended.abort();
  }

  /** A source that cannot be profiled at all on this target (e.g. etcd of a remote cluster). */
  markUnavailable(source: string, reason: string): void {
    this.unavailable.set(source, reason);
  }

  result(): ProfilesResult {
    return {
      sources: [...new Set([...this.options.sources.map((s) => s.name), ...this.unavailable.keys()])],
      unavailable: [...this.unavailable].map(([source, reason]) => ({ source, reason })),
      cpu: this.cpu,
      heap: this.heap,
      heapGrowth: this.growth,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.options.sources.map((s) => s.close?.()));
  }

  private sourcesFor(kind: 'cpu' | 'heap'): ProfileSource[] {
    return this.options.sources.filter((s) => !this.unavailable.has(s.name) && !this.unavailable.has(`${s.name} ${kind}`));
  }

  /** The next request's length: the rest of a known duration, else the next of TAIL_SECONDS. */
  private nextSeconds(g: Group, tail: number): { seconds: number; tail: boolean } {
    const max = this.options.maxProfileSeconds ?? 30;
    const known = this.options.durationOf(g.host);
    const remainingMs = known === undefined ? 0 : known - (performance.now() - g.startedAt!);
    if (remainingMs >= 1000) return { seconds: Math.min(max, Math.ceil(remainingMs / 1000)), tail: false };
    return { seconds: Math.min(max, TAIL_SECONDS[Math.min(tail, TAIL_SECONDS.length - 1)]!), tail: true };
  }

  private captureCpu(source: ProfileSource, g: Group): CpuCapture {
    const capture: CpuCapture = { source, chunks: [], seconds: 0, done: Promise.resolve() };
    capture.done = (async () => {
      for (let tail = 0; !g.ended.signal.aborted && !this.options.signal.aborted; ) {
        const next = this.nextSeconds(g, tail);
        const seconds = next.seconds;
        if (next.tail) tail++;
        try {
          capture.chunks.push(await source.fetch(`/debug/pprof/profile?seconds=${seconds}`, this.options.signal));
          capture.seconds += seconds;
        } catch (err) {
          this.failed(source, 'cpu', err);
          return;
        }
      }
    })();
    return capture;
  }

  private async closeGroup(): Promise<void> {
    const g = this.group;
    this.group = undefined;
    if (!g) return;
    g.ended.abort();
    await Promise.all(g.captures.map((c) => c.done));
    for (const c of g.captures) {
      if (c.chunks.length === 0) continue;
      try {
        const bytes = c.chunks.length === 1 ? c.chunks[0]! : mergeProfiles(c.chunks);
        const file = profileFile(g.step.index, c.source, `${g.host}.cpu.pb.gz`);
        await this.options.write(file, bytes);
        const a = attribute(decodeProfile(bytes), c.source.table, 'cpu', 1e-9);
        this.cpu.push({
          source: c.source.name,
          step: g.step.index,
          level: g.step.level,
          crds: g.step.crds,
          phase: g.host,
          phases: g.phases,
          file,
          profiledSeconds: c.seconds,
          cpuSeconds: a.total,
          components: a.components,
        });
      } catch (err) {
        this.warnOnce(`${c.source.name} cpu decode`, `cannot read the ${c.source.name} CPU profile of ${g.host} (step ${g.step.index}): ${(err as Error).message}`);
      }
    }
  }

  private async takeHeap(step: ProbeStep): Promise<void> {
    if (!this.options.heap) return;
    await Promise.all(
      this.sourcesFor('heap').map(async (source) => {
        let bytes: Uint8Array;
        try {
          bytes = await source.fetch('/debug/pprof/heap?gc=1', this.options.signal);
        } catch (err) {
          this.failed(source, 'heap', err);
          return;
        }
        const file = profileFile(step.index, source, 'heap.pb.gz');
        try {
          await this.options.write(file, bytes);
          const a = attribute(decodeProfile(bytes), source.table, 'inuse_space');
          this.heap.push({ source: source.name, step: step.index, level: step.level, crds: step.crds, file, inuseBytes: Math.round(a.total), components: a.components });
          const current = { step: step.index, crds: step.crds, attribution: a };
          const previous = this.lastHeap.get(source.name);
          if (previous) this.growth.push(heapGrowth(source.name, previous, current));
          this.lastHeap.set(source.name, current);
        } catch (err) {
          this.warnOnce(`${source.name} heap decode`, `cannot read the ${source.name} heap profile of step ${step.index}: ${(err as Error).message}`);
        }
      }),
    );
  }

  private failed(source: ProfileSource, kind: 'cpu' | 'heap', err: unknown): void {
    if (this.options.signal.aborted) return;
    const message = (err as Error).message;
    if (err instanceof ProfileUnavailable) {
      // One line, and the run goes on without this source's profiles.
      if (!this.unavailable.has(source.name)) this.options.onMessage(`profiles from ${source.name} unavailable: ${message}; the run goes on without them`);
      this.unavailable.set(source.name, message);
      return;
    }
    this.warnOnce(`${source.name} ${kind}`, `a ${source.name} ${kind} profile failed (${message}); later ones are still tried`);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.onMessage(message);
  }
}
