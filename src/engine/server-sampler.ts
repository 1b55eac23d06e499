/**
 * Sampling the API server's own metrics during a run (it watches nothing: it
 * schedules scrapes): a scrape of /metrics at each
 * phase's start and end (the deltas say what the server did for that phase)
 * and every few seconds for the series in the report (memory, CPU, 429s
 * against time and CRD count). If /metrics cannot be read (a remote cluster
 * that denies it), the run goes on without server figures and says so once.
 */
import { RequestError, type KubeClient } from '../kube/client.js';
import { deltaSnapshot, scrapeServerMetrics, type ServerSnapshot } from '../metrics/server-metrics.js';
import type { ServerPhaseStats, ServerSample } from '../types/results.js';

export class ServerSampler {
  readonly series: ServerSample[] = [];
  private disabled: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private previous: ServerSnapshot | undefined;
  /** Called with every periodic sample (the memory guard reads them). */
  onSample: ((sample: ServerSample) => void) | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly runStartedAt: number,
    private readonly crds: () => number,
    private readonly onProblem: (message: string) => void,
  ) {}

  /**
   * One scrape, or undefined if it failed. A denial (401/403/404: a cluster that
   * does not let us read /metrics) stops scraping for the run, reported once; other
   * failures (a slow or restarting server: /metrics grows to tens of MB with
   * thousands of CRDs) skip this sample only.
   */
  async snapshot(maxAgeMs = 0): Promise<ServerSnapshot | undefined> {
    if (this.disabled) return undefined;
    // A phase's end and the next phase's start are moments apart: one scrape serves both
    // (with thousands of CRDs each scrape is tens of MB the server has to render).
    if (this.last && performance.now() - this.last.at <= maxAgeMs) return this.last.snapshot;
    try {
      const snapshot = await scrapeServerMetrics(this.client, {
        signal: AbortSignal.timeout(60_000),
        onRead: (bytes, ms) => {
          this.scrapes.count++;
          this.scrapes.bytes += bytes;
          this.scrapes.ms += ms;
          this.scrapes.lastMs = ms;
          this.scrapes.maxMs = Math.max(this.scrapes.maxMs, ms);
        },
      });
      this.last = { at: performance.now(), snapshot };
      return snapshot;
    } catch (err) {
      const status = err instanceof RequestError ? err.status : undefined;
      if (status === 401 || status === 403 || status === 404) {
        this.disabled = (err as Error).message;
        this.onProblem(`server metrics unavailable (${this.disabled}); results will have client-side figures only`);
      } else if (!this.warned) {
        this.warned = true;
        this.onProblem(`a /metrics scrape failed (${(err as Error).message}); skipping samples that fail`);
      }
      return undefined;
    }
  }

  private warned = false;
  private sampling = false;
  private last: { at: number; snapshot: ServerSnapshot } | undefined;
  /** What scraping /metrics cost: scrapes, bytes read, time spent (ms). */
  readonly scrapes = { count: 0, bytes: 0, ms: 0, lastMs: 0, maxMs: 0 };
  private stopped = false;

  /**
   * Samples every `periodMs`, or every 10 scrape durations when a scrape takes
   * longer than a tenth of the period: /metrics grows to ~45 MB with 5,000
   * CRDs, and rendering it every 5 s is load on the server under test.
   */
  start(periodMs = 5_000): void {
    const sample = async () => {
      // One sample at a time: a slow scrape must not overlap the next (tiny intervals
      // between overlapping scrapes would turn CPU seconds into absurd core counts).
      if (this.sampling) return;
      this.sampling = true;
      const snap = await this.snapshot().finally(() => (this.sampling = false));
      if (!snap) return;
      const t = Math.round((performance.now() - this.runStartedAt) / 100) / 10;
      const prev = this.previous;
      const delta = prev ? deltaSnapshot(prev, snap) : undefined;
      const cpuCores = delta && delta.intervalSeconds >= 1 ? delta.cpuCores : 0;
      this.previous = snap;
      const round = (v: number) => Math.round(v * 1000) / 1000;
      const sample: ServerSample = {
        t,
        rssBytes: snap.process.residentMemoryBytes,
        cpuCores: round(cpuCores),
        crds: this.crds(),
        requests429: snap.requests.byCode['429'] ?? 0,
        apfRejected: snap.apf.rejectedTotal,
        apfInQueue: snap.apf.inQueue,
        apfWaitP99Ms: round(delta?.apf.wait.p99Ms ?? 0),
        etcdP99Ms: round(Math.max(0, ...Object.values(delta?.etcdLatency ?? {}).map((l) => l.p99Ms))),
        objects: snap.objects.total,
      };
      this.series.push(sample);
      this.onSample?.(sample);
    };
    const next = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void sample().finally(next), Math.max(periodMs, 10 * this.scrapes.lastMs));
      this.timer.unref();
    };
    void sample().finally(next);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/** What the server did between two scrapes, in the result's terms. */
export function phaseStats(before: ServerSnapshot, after: ServerSnapshot): ServerPhaseStats {
  const d = deltaSnapshot(before, after);
  const busiest = Object.values(d.requestLatency).sort((a, b) => b.count - a.count)[0];
  const etcdP99 = Math.max(0, ...Object.values(d.etcdLatency).map((l) => l.p99Ms));
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    cpuCores: round(d.cpuCores),
    rssBytes: d.memory.residentBytes,
    requests429: d.requests.throttled429,
    apfRejected: d.apf.rejected,
    apfWaitP99Ms: round(d.apf.wait.p99Ms),
    etcdP99Ms: round(etcdP99),
    requestP99Ms: round(busiest?.p99Ms ?? 0),
    objects: d.objects.after,
  };
}
