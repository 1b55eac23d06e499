/**
 * The two load models, as separate runners (k6's split):
 *
 * - closed: N workers, each starting its next iteration when the last ends.
 *   Latency is measured from the iteration's actual start.
 * - open: iterations start on a schedule (constant arrival rate), whatever
 *   the server does. Latency is measured from the *scheduled* start, so a
 *   slow server cannot hide its queueing (no coordinated omission); an
 *   arrival that finds `maxInFlight` iterations running is dropped and counted.
 */

import { newHistogram, type Histogram } from '../metrics/histogram.js';
import { PrecisePacer, startPacer, type Pacer } from './pacer.js';

/** One iteration; resolves with its outcome, never rejects for a failed request. */
export type Iteration = (index: number, signal: AbortSignal) => Promise<IterationOutcome>;

export interface IterationOutcome {
  /** Error class if the iteration failed (see types/results.ts ErrorClass). */
  error?: string;
  /** What the failure said (the first one per class is kept as an example). */
  message?: string;
  bytes?: number;
  /**
   * performance.now() when the iteration's last response was complete (its
   * last byte read and parsed): the latency ends there. Without it, it ends
   * when the iteration's promise settles, which adds the harness's own unwinding
   * (measured 40-50 µs at p50 for a GET at 100/s, a process that sleeps
   * between requests: the promise hops from the socket's data event back to
   * the load model) to every latency.
   */
  endedAt?: number;
}

/** When an iteration ended: its `endedAt` when it lies between its start and now. */
function endOf(outcome: IterationOutcome, start: number, now: number): number {
  const e = outcome.endedAt;
  return e !== undefined && e >= start && e <= now ? e : now;
}

export interface Sink {
  /** Called once per finished (or dropped) iteration with its latency in µs. */
  (latencyUs: number, outcome: IterationOutcome, index: number): void;
}

export interface Limits {
  /** Stop after this many iterations. */
  total?: number;
  /** Stop starting iterations after this many ms. */
  durationMs?: number;
  /** Stop starting when aborted (phase end, onError policy, Ctrl-C). */
  signal: AbortSignal;
}

export async function runClosed(concurrency: number, limits: Limits, iteration: Iteration, sink: Sink): Promise<number> {
  const deadline = limits.durationMs !== undefined ? performance.now() + limits.durationMs : Infinity;
  const total = limits.total ?? Infinity;
  let next = 0;
  const worker = async () => {
    while (!limits.signal.aborted && next < total && performance.now() < deadline) {
      const index = next++;
      const start = performance.now();
      const outcome = await iteration(index, limits.signal);
      sink((endOf(outcome, start, performance.now()) - start) * 1000, outcome, index);
    }
  };
  const workers = Math.max(1, Math.min(concurrency, total));
  await Promise.all(Array.from({ length: workers }, worker));
  return next;
}

export interface OpenModel {
  ratePerSecond: number;
  /** Linear ramp to this rate over `durationMs`. */
  rampToPerSecond?: number;
  durationMs?: number;
  maxInFlight: number;
}

/**
 * Scheduled start (ms after t0) of arrival k. Constant rate r: k / r. Linear
 * ramp r(t) = r0 + a·t over T seconds (a = (r1 - r0) / T): arrivals so far are
 * N(t) = r0·t + a·t²/2, so arrival k is due at t = (√(r0² + 2·a·k) − r0) / a.
 */
export function arrivalTimeMs(model: OpenModel, k: number): number {
  const r0 = model.ratePerSecond;
  if (model.rampToPerSecond === undefined || model.durationMs === undefined || model.rampToPerSecond === r0) return (k / r0) * 1000;
  const a = (model.rampToPerSecond - r0) / (model.durationMs / 1000);
  const disc = r0 * r0 + 2 * a * k;
  if (disc < 0) return Infinity; // a falling ramp that reaches zero: no more arrivals
  return ((Math.sqrt(disc) - r0) / a) * 1000;
}

export interface OpenStats {
  /** Arrivals scheduled (started + dropped): the next iteration index. */
  scheduled: number;
  started: number;
  dropped: number;
  /** How late the scheduler started iterations, for the harness's own health. */
  maxLagMs: number;
  /**
   * Scheduling lag of every started arrival (intended start → sent), µs: the
   * harness's own error, part of every latency the open model measures.
   */
  lag: Histogram;
  /** Main-thread time spent busy-waiting the last µs before arrivals, ms (see pacer.ts). */
  spunMs: number;
}

export interface OpenOptions {
  /** How to sleep until an arrival is due (default: a PrecisePacer, its worker started and stopped here). */
  pacer?: Pacer;
}

export async function runOpen(model: OpenModel, limits: Limits, iteration: Iteration, sink: Sink, options: OpenOptions = {}): Promise<OpenStats> {
  const pacer = options.pacer ?? (await startPacer());
  try {
    return await openLoop(model, limits, iteration, sink, pacer);
  } finally {
    if (!options.pacer) await pacer.close();
  }
}

async function openLoop(model: OpenModel, limits: Limits, iteration: Iteration, sink: Sink, pacer: Pacer): Promise<OpenStats> {
  const t0 = performance.now();
  const deadline = limits.durationMs !== undefined ? t0 + limits.durationMs : Infinity;
  const total = limits.total ?? Infinity;
  let scheduled = 0;
  let inFlight = 0;
  const stats: OpenStats = { scheduled: 0, started: 0, dropped: 0, maxLagMs: 0, lag: newHistogram(), spunMs: 0 };
  const spun0 = pacer instanceof PrecisePacer ? pacer.spunMs : 0;
  const running = new Set<Promise<void>>();

  while (!limits.signal.aborted && scheduled < total) {
    const due = t0 + arrivalTimeMs(model, scheduled);
    if (due >= deadline) break;
    const now = performance.now();
    if (due > now) {
      // Sleep until the next arrival (pacer.ts: sub-ms precise, no spin between arrivals).
      await pacer.sleepUntil(due, due - (scheduled > 0 ? t0 + arrivalTimeMs(model, scheduled - 1) : t0));
      continue;
    }
    // Start every arrival that is due now; each keeps its own scheduled time.
    const index = scheduled++;
    const lagMs = now - due;
    stats.maxLagMs = Math.max(stats.maxLagMs, lagMs);
    if (inFlight >= model.maxInFlight) {
      stats.dropped++;
      sink(0, { error: 'dropped' }, index);
      continue;
    }
    stats.lag.recordValue(Math.max(1, Math.round(lagMs * 1000)));
    inFlight++;
    stats.started++;
    const p = iteration(index, limits.signal).then((outcome) => {
      inFlight--;
      sink((endOf(outcome, due, performance.now()) - due) * 1000, outcome, index);
    });
    running.add(p);
    void p.finally(() => running.delete(p));
  }
  await Promise.all(running);
  stats.scheduled = scheduled;
  if (pacer instanceof PrecisePacer) stats.spunMs = pacer.spunMs - spun0;
  return stats;
}
