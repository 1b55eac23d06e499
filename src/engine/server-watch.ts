/**
 * The API server's own metrics during a run: a scrape of /metrics at each
 * phase's start and end (the deltas say what the server did for that phase)
 * and every few seconds for the series in the report (memory, CPU, 429s
 * against time and CRD count). If /metrics cannot be read (a remote cluster
 * that denies it), the run goes on without server figures and says so once.
 */
import { RequestError, type KubeClient } from '../kube/client.js';
import { deltaSnapshot, scrapeServerMetrics, type ServerSnapshot } from '../metrics/server.js';
import type { ServerPhaseStats, ServerSample } from '../types/results.js';

export class ServerWatch {
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
  async snapshot(): Promise<ServerSnapshot | undefined> {
    if (this.disabled) return undefined;
    try {
      return await scrapeServerMetrics(this.client, { signal: AbortSignal.timeout(60_000) });
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
      const sample = { t, rssBytes: snap.process.residentMemoryBytes, cpuCores: Math.round(cpuCores * 1000) / 1000, crds: this.crds(), requests429: snap.requests.byCode['429'] ?? 0 };
      this.series.push(sample);
      this.onSample?.(sample);
    };
    void sample();
    this.timer = setInterval(() => void sample(), periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
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
