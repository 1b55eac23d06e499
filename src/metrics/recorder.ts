/**
 * Collects samples for one phase: per operation key, an HDR histogram of
 * successful latencies, a count, errors by class and bytes received.
 * Keys are low-cardinality (`create.objects`, `list.quorum`); object names
 * never become keys.
 */
import { encodeHistogram, latencySummaryMs, newHistogram, type Histogram } from './histogram.js';
import type { ErrorClass, OpSummary } from '../types/results.js';

export class OpStats {
  readonly histogram: Histogram = newHistogram();
  count = 0;
  ok = 0;
  bytes = 0;
  /** The current one-second interval, for the per-second series. */
  readonly interval = { histogram: newHistogram(), count: 0, errors: 0, throttled: 0 };
  readonly errors = new Map<ErrorClass, number>();
  /** The first message seen per error class, so a report can say what failed. */
  readonly examples = new Map<ErrorClass, string>();

  record(latencyUs: number, error: ErrorClass | undefined, bytes = 0, message?: string): void {
    if (error !== undefined && message !== undefined && !this.examples.has(error)) this.examples.set(error, message.slice(0, 300));
    this.count++;
    this.bytes += bytes;
    this.interval.count++;
    if (error === undefined) {
      this.ok++;
      const us = Math.max(1, Math.round(latencyUs));
      this.histogram.recordValue(us);
      this.interval.histogram.recordValue(us);
    } else {
      if (error === 'http-429') this.interval.throttled++;
      else this.interval.errors++;
      this.errors.set(error, (this.errors.get(error) ?? 0) + 1);
    }
  }
}

export interface IntervalRow {
  op: string;
  count: number;
  errors: number;
  throttled: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class PhaseRecorder {
  private readonly ops = new Map<string, OpStats>();
  startedAt = performance.now();
  endedAt: number | undefined;

  stats(key: string): OpStats {
    let s = this.ops.get(key);
    if (!s) {
      s = new OpStats();
      this.ops.set(key, s);
    }
    return s;
  }

  record(key: string, latencyUs: number, error?: ErrorClass, bytes?: number, message?: string): void {
    this.stats(key).record(latencyUs, error, bytes, message);
  }

  /** Counts an event that has no latency (a bookmark, a relist, pages of a list). */
  count(key: string, n = 1, error?: ErrorClass): void {
    const s = this.stats(key);
    s.count += n;
    if (error === undefined) s.ok += n;
    else s.errors.set(error, (s.errors.get(error) ?? 0) + n);
  }

  /** Total failed requests so far, for the scenario's onError policy. */
  errorCount(): number {
    let n = 0;
    for (const s of this.ops.values()) for (const [cls, c] of s.errors) if (cls !== 'http-429' && cls !== 'dropped') n += c;
    return n;
  }

  /** Rows of the interval that just ended (ops with activity), and a fresh interval. */
  takeInterval(): IntervalRow[] {
    const rows: IntervalRow[] = [];
    for (const [op, s] of this.ops) {
      const i = s.interval;
      if (i.count === 0) continue;
      const lat = latencySummaryMs(i.histogram);
      rows.push({ op, count: i.count, errors: i.errors, throttled: i.throttled, p50Ms: lat.p50, p99Ms: lat.p99, maxMs: lat.max });
      i.histogram.reset();
      i.count = 0;
      i.errors = 0;
      i.throttled = 0;
    }
    return rows;
  }

  finish(): void {
    this.endedAt ??= performance.now();
  }

  summaries(): OpSummary[] {
    const seconds = Math.max(1e-9, ((this.endedAt ?? performance.now()) - this.startedAt) / 1000);
    return [...this.ops.entries()].map(([key, s]) => ({
      op: key,
      count: s.count,
      ok: s.ok,
      errors: Object.fromEntries(s.errors),
      ...(s.examples.size > 0 ? { errorExamples: Object.fromEntries(s.examples) } : {}),
      throughput: Math.round((s.count / seconds) * 100) / 100,
      bytes: s.bytes,
      latencyMs: latencySummaryMs(s.histogram),
      histogram: encodeHistogram(s.histogram),
    }));
  }
}
