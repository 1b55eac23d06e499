/**
 * The harness's own health, measured for every phase: a load tester that
 * saturated itself reports its own limits, not the server's. Everything is
 * measured for the thread that runs the load (the main thread, or one worker
 * of `run --threads N`), because one event loop is what a thread can saturate:
 *
 * - CPU: the thread's CPU time over wall time (1.0 = its core fully busy);
 *   `process.threadCpuUsage`, falling back to process CPU where it is missing.
 *   The whole process's CPU is kept apart (`processCpuCores`).
 * - Event-loop utilization (ELU): the share of wall time the loop was running
 *   callbacks rather than waiting for I/O (`performance.eventLoopUtilization`).
 * - Event-loop delay: how late a 10 ms timer fired (`monitorEventLoopDelay`).
 *   That histogram records the whole gap between two firings, so an idle loop
 *   reads 10 ms; the sampling period is subtracted, leaving the lateness.
 * - Event-loop wait: the mean time a response that arrived at a random moment
 *   waited for the loop before its callback ran, i.e. what the harness added
 *   on average to the latencies it measured. A stall of L ms catches an
 *   arrival with probability L/T and delays it L/2 on average, so the wait is
 *   Σ L² / 2T over the stalls (gaps between ticks of a 10 ms timer, beyond
 *   the 10 ms). Time-weighted, so it does not depend on how many ticks a stall
 *   swallowed: 40 ms stalls every 50 ms read about 16 ms; 20 ms every 50 ms,
 *   4 ms; many short callbacks (5 ms every 10 ms), 0; one 86 ms stall in a
 *   second, 3.7 ms.
 * - GC: the share of wall time the thread's isolate was paused for garbage
 *   collection, and the longest pause (`PerformanceObserver` 'gc' entries).
 *   Recorded, not judged on its own: its pauses already count in the wait.
 *
 * When the harness counts as saturated (judgeHarness), over a phase of at
 * least a second (shorter ones are bursts: a handful of requests keeps one
 * thread busy for a few ms, one stall can fill most of it):
 * - busy: ELU or thread CPU ≥ 0.9, the loop had no headroom left;
 * - stalled: event-loop wait ≥ 10 ms, the harness's own delay was of the
 *   order of a fast request's whole latency on a nearby server.
 * One isolated stall (a GC pause, parsing a large document) is not
 * saturation: it shows in the delay p99 and max, which are recorded. Sustained
 * stalls are, whatever their cause: the harness's own work, a noisy neighbour
 * on the same thread, or a machine whose CPUs are busy elsewhere (the thread
 * is ready but not running; a low ELU tells that case apart, and the reason
 * says so). In every case the latencies include the harness's own delay.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import type { HarnessStats } from '../types/results.js';

/** Sampling period of the event-loop delay timer, ms. */
export const LOOP_RESOLUTION_MS = 10;

/** Above these, the harness itself may be what limited the measurement. */
export const HARNESS_LIMITS = {
  /** Thread CPU, cores (1.0 = the thread's core fully busy). */
  cpuCores: 0.9,
  /** Share of wall time the event loop was busy. */
  eventLoopUtilization: 0.9,
  /** Mean wait of a response for the event loop, ms. */
  eventLoopWaitMs: 10,
  /** Phases shorter than this are not judged. */
  minWallMs: 1000,
  /** Open model: scheduling lag p99 (intended start → sent), ms, at least ... */
  scheduleLagP99Ms: 2,
  /** ... and this share of the primary operation's latency p99, which includes the lag. */
  scheduleLagShare: 0.1,
} as const;

/**
 * Whether an open-model phase started its arrivals too late for its latencies
 * to describe the server: lag p99 at or above both the absolute limit and the
 * share of the measured p99 (2 ms matters to a 3 ms get, not to a 2 s list).
 */
export function judgeSchedule(lagP99Ms: number, latencyP99Ms: number, limits = HARNESS_LIMITS): string | undefined {
  const limit = Math.max(limits.scheduleLagP99Ms, limits.scheduleLagShare * latencyP99Ms);
  if (lagP99Ms < limit) return undefined;
  return `arrivals started late: scheduling lag p99 ${lagP99Ms.toFixed(2)} ms (limit ${limit.toFixed(2)} ms, the larger of ${limits.scheduleLagP99Ms} ms and ${Math.round(limits.scheduleLagShare * 100)}% of the latency p99 ${latencyP99Ms.toFixed(2)} ms)`;
}

/** The stats with a late schedule's reason added (saturated: the latencies include the harness's lateness). */
export function withScheduleVerdict(stats: HarnessStats, why: string | undefined): HarnessStats {
  if (why === undefined) return stats;
  return { ...stats, saturated: true, saturatedBy: [...(stats.saturatedBy ?? []), why] };
}

/** What a phase measured about its own thread, before judging it. */
export interface HarnessMeasure {
  wallMs: number;
  /** Thread CPU, cores. */
  cpuCores: number;
  eventLoopUtilization: number;
  eventLoopWaitMs: number;
}

/** Whether a measure counts as saturated: why, one phrase per limit passed (empty when it does not). */
export function judgeHarness(m: HarnessMeasure, limits = HARNESS_LIMITS): string[] {
  const why: string[] = [];
  if (m.wallMs < limits.minWallMs) return why;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  if (m.eventLoopUtilization >= limits.eventLoopUtilization) why.push(`event loop busy ${pct(m.eventLoopUtilization)} of the time (limit ${pct(limits.eventLoopUtilization)})`);
  if (m.cpuCores >= limits.cpuCores) why.push(`load thread CPU ${m.cpuCores.toFixed(2)} cores (limit ${limits.cpuCores})`);
  if (m.eventLoopWaitMs >= limits.eventLoopWaitMs) {
    // Stalls while the loop was mostly idle: the thread was ready but did not get a CPU.
    const cause = m.eventLoopUtilization < 0.5 ? '; the loop was mostly idle, so the thread was waiting for a CPU: the machine was busy' : '';
    why.push(`responses waited ${m.eventLoopWaitMs.toFixed(1)} ms on average for the event loop (limit ${limits.eventLoopWaitMs} ms)${cause}`);
  }
  return why;
}

type CpuUsage = { user: number; system: number };
const threadCpu: (previous?: CpuUsage) => CpuUsage =
  typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === 'function' ? (p) => process.threadCpuUsage(p) : (p) => process.cpuUsage(p);

export class HarnessMonitor {
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private readonly cpuStart = threadCpu();
  private readonly processCpuStart = process.cpuUsage();
  private readonly eluStart = performance.eventLoopUtilization();
  private readonly wallStart = performance.now();
  private rssMax = process.memoryUsage.rss();
  private readonly sampler: NodeJS.Timeout;
  private readonly ticker: NodeJS.Timeout;
  private lastTick = this.wallStart;
  /** Σ L² over the stalls L (ms², beyond the tick period). */
  private stallSquares = 0;
  /** GC pauses of this thread's isolate during the phase (a major GC stops every callback). */
  private gcPauseMs = 0;
  private gcPauseMaxMs = 0;
  private readonly gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      this.gcPauseMs += entry.duration;
      this.gcPauseMaxMs = Math.max(this.gcPauseMaxMs, entry.duration);
    }
  });

  constructor() {
    this.gc.observe({ entryTypes: ['gc'] });
    this.loop.enable();
    this.sampler = setInterval(() => {
      this.rssMax = Math.max(this.rssMax, process.memoryUsage.rss());
    }, 1000);
    this.sampler.unref();
    this.ticker = setInterval(() => this.tick(), LOOP_RESOLUTION_MS);
    this.ticker.unref();
  }

  private tick(): void {
    const now = performance.now();
    const stall = now - this.lastTick - LOOP_RESOLUTION_MS;
    if (stall > 0) this.stallSquares += stall * stall;
    this.lastTick = now;
  }

  stop(): HarnessStats {
    this.tick();
    // Entries still queued for the observer's callback belong to this phase too.
    for (const entry of this.gc.takeRecords()) {
      this.gcPauseMs += entry.duration;
      this.gcPauseMaxMs = Math.max(this.gcPauseMaxMs, entry.duration);
    }
    this.gc.disconnect();
    this.loop.disable();
    clearInterval(this.sampler);
    clearInterval(this.ticker);
    const wallMs = Math.max(1, performance.now() - this.wallStart);
    const cores = (u: CpuUsage) => Math.round(((u.user + u.system) / 1000 / wallMs) * 1000) / 1000;
    const cpuCores = cores(threadCpu(this.cpuStart));
    const samples = this.loop.count;
    // ns → ms, 2 decimals, minus the sampling period (an idle loop reads 0).
    const late = (ns: number) => (samples > 0 ? Math.round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100 : 0);
    const measure: HarnessMeasure = {
      wallMs,
      cpuCores,
      eventLoopUtilization: Math.round(performance.eventLoopUtilization(this.eluStart).utilization * 1000) / 1000,
      eventLoopWaitMs: Math.round((this.stallSquares / (2 * wallMs)) * 100) / 100,
    };
    const why = judgeHarness(measure);
    return {
      cpuCores,
      eventLoopDelayP99Ms: late(samples > 0 ? this.loop.percentile(99) : 0),
      eventLoopDelayMaxMs: late(samples > 0 ? this.loop.max : 0),
      rssMaxBytes: Math.max(this.rssMax, process.memoryUsage.rss()),
      saturated: why.length > 0,
      eventLoopUtilization: measure.eventLoopUtilization,
      eventLoopWaitMs: measure.eventLoopWaitMs,
      processCpuCores: cores(process.cpuUsage(this.processCpuStart)),
      gcPauseShare: Math.round((this.gcPauseMs / wallMs) * 1000) / 1000,
      gcPauseMaxMs: Math.round(this.gcPauseMaxMs * 100) / 100,
      ...(why.length > 0 ? { saturatedBy: why } : {}),
    };
  }
}
