/**
 * The API server's own metrics during a run: a scrape of /metrics at each
 * phase's start and end (the deltas say what the server did for that phase)
 * and every few seconds for the series in the report (memory, CPU, 429s
 * against time and CRD count). If /metrics cannot be read (a remote cluster
 * that denies it), the run goes on without server figures and says so once.
 */
import type { KubeClient } from '../kube/client.js';
import { deltaSnapshot, scrapeServerMetrics, type ServerSnapshot } from '../metrics/server.js';
import type { ServerPhaseStats, ServerSample } from '../types/results.js';

export class ServerWatch {
  readonly series: ServerSample[] = [];
  private disabled: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private previous: ServerSnapshot | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly runStartedAt: number,
    private readonly crds: () => number,
    private readonly onProblem: (message: string) => void,
  ) {}

  /** One scrape, or undefined once scraping has failed (reported once). */
  async snapshot(): Promise<ServerSnapshot | undefined> {
    if (this.disabled) return undefined;
    try {
      return await scrapeServerMetrics(this.client, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      this.disabled = (err as Error).message;
      this.onProblem(`server metrics unavailable (${this.disabled}); results will have client-side figures only`);
      return undefined;
    }
  }

  start(periodMs = 5_000): void {
    const sample = async () => {
      const snap = await this.snapshot();
      if (!snap) return;
      const t = Math.round((performance.now() - this.runStartedAt) / 100) / 10;
      const prev = this.previous;
      const cpuCores = prev ? deltaSnapshot(prev, snap).cpuCores : 0;
      this.previous = snap;
      this.series.push({ t, rssBytes: snap.process.residentMemoryBytes, cpuCores: Math.round(cpuCores * 1000) / 1000, crds: this.crds(), requests429: snap.requests.byCode['429'] ?? 0 });
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
