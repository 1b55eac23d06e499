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

/** One iteration; resolves with its outcome, never rejects for a failed request. */
export type Iteration = (index: number, signal: AbortSignal) => Promise<IterationOutcome>;

export interface IterationOutcome {
  /** Error class if the iteration failed (see types/results.ts ErrorClass). */
  error?: string;
  /** What the failure said (the first one per class is kept as an example). */
  message?: string;
  bytes?: number;
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
      sink((performance.now() - start) * 1000, outcome, index);
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
}

export async function runOpen(model: OpenModel, limits: Limits, iteration: Iteration, sink: Sink): Promise<OpenStats> {
  const t0 = performance.now();
  const deadline = limits.durationMs !== undefined ? t0 + limits.durationMs : Infinity;
  const total = limits.total ?? Infinity;
  let scheduled = 0;
  let inFlight = 0;
  const stats: OpenStats = { scheduled: 0, started: 0, dropped: 0, maxLagMs: 0 };
  const running = new Set<Promise<void>>();

  while (!limits.signal.aborted && scheduled < total) {
    const due = t0 + arrivalTimeMs(model, scheduled);
    if (due >= deadline) break;
    const now = performance.now();
    if (due > now) {
      // Sleep until the next arrival on a timer (ms-grained: arrivals start up to ~1 ms late,
      // p99 1.1-1.2 ms measured at 200-2,000/s; late ones are caught up below, each keeping
      // its scheduled time for latency). Not a setImmediate spin for sub-ms precision: that
      // measured 0.1-0.2 ms lag but kept a whole core busy at >= 500/s, taking CPU from the
      // server under test and marking every open-model phase as a saturated harness.
      await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, due - now - 0.5)));
      continue;
    }
    // Start every arrival that is due now; each keeps its own scheduled time.
    const index = scheduled++;
    stats.maxLagMs = Math.max(stats.maxLagMs, now - due);
    if (inFlight >= model.maxInFlight) {
      stats.dropped++;
      sink(0, { error: 'dropped' }, index);
      continue;
    }
    inFlight++;
    stats.started++;
    const p = iteration(index, limits.signal).then((outcome) => {
      inFlight--;
      sink((performance.now() - due) * 1000, outcome, index);
    });
    running.add(p);
    void p.finally(() => running.delete(p));
  }
  await Promise.all(running);
  stats.scheduled = scheduled;
  return stats;
}
