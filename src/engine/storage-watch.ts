/**
 * Samples the local control plane's storage process (etcd or kine) over a run:
 * its memory at the start, peak and end, the CPU it used, etcd's database
 * size. One process, whatever the number of API servers (tenants) on it.
 * A failing scrape skips that sample; the run goes on.
 */
import { scrapeStorageMetrics, type StorageSnapshot } from '../metrics/storage.js';
import type { StorageStats } from '../types/results.js';

export class StorageWatch {
  private first: StorageSnapshot | undefined;
  private last: StorageSnapshot | undefined;
  private rssMax = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly kind: StorageStats['kind'],
    private readonly metricsUrl: string,
  ) {}

  private async sample(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = scrapeStorageMetrics(this.metricsUrl)
      .then((snap) => {
        this.first ??= snap;
        this.last = snap;
        this.rssMax = Math.max(this.rssMax, snap.rssBytes);
        this.samples++;
      })
      .catch(() => {})
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  async start(periodMs = 5_000): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => void this.sample(), periodMs);
    this.timer.unref();
  }

  /** Stops sampling after one last sample; undefined if no scrape ever worked. */
  async stop(): Promise<StorageStats | undefined> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
    await this.sample();
    if (!this.first || !this.last) return undefined;
    return {
      kind: this.kind,
      samples: this.samples,
      rssStartBytes: this.first.rssBytes,
      rssMaxBytes: this.rssMax,
      rssEndBytes: this.last.rssBytes,
      cpuSeconds: Math.round((this.last.cpuSeconds - this.first.cpuSeconds) * 100) / 100,
      ...(this.last.dbSizeBytes !== undefined ? { dbSizeBytes: this.last.dbSizeBytes } : {}),
    };
  }
}
