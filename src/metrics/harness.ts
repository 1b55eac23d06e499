/**
 * The harness's own health, measured for every phase: a load tester that
 * saturated itself reports its own limits, not the server's. CPU is process
 * CPU time over wall time (1.0 = one core busy); event-loop delay comes from
 * `monitorEventLoopDelay` (a timer that notices when the loop is late).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HarnessStats } from '../types/results.js';

/** Above these, the harness itself may be what limited the measurement. */
export const HARNESS_LIMITS = { cpuCores: 0.9, eventLoopP99Ms: 50 } as const;

export class HarnessMonitor {
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private readonly cpuStart = process.cpuUsage();
  private readonly wallStart = performance.now();
  private rssMax = process.memoryUsage.rss();
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    this.loop.enable();
    this.sampler = setInterval(() => {
      this.rssMax = Math.max(this.rssMax, process.memoryUsage.rss());
    }, 1000);
    this.sampler.unref();
  }

  stop(): HarnessStats {
    this.loop.disable();
    clearInterval(this.sampler);
    const cpu = process.cpuUsage(this.cpuStart);
    const wallMs = Math.max(1, performance.now() - this.wallStart);
    const cpuCores = (cpu.user + cpu.system) / 1000 / wallMs;
    const ns = (v: number) => Math.round(v / 1e4) / 100; // ns → ms, 2 decimals
    const stats: HarnessStats = {
      cpuCores: Math.round(cpuCores * 1000) / 1000,
      eventLoopDelayP99Ms: this.loop.count > 0 ? ns(this.loop.percentile(99)) : 0,
      eventLoopDelayMaxMs: this.loop.count > 0 ? ns(this.loop.max) : 0,
      rssMaxBytes: Math.max(this.rssMax, process.memoryUsage.rss()),
      saturated: false,
    };
    // CPU over a phase shorter than a second is a burst, not a steady state: a handful of
    // requests always keeps one thread busy. Judge CPU only over at least a second.
    stats.saturated = (stats.cpuCores >= HARNESS_LIMITS.cpuCores && wallMs >= 1000) || stats.eventLoopDelayP99Ms >= HARNESS_LIMITS.eventLoopP99Ms;
    return stats;
  }
}
