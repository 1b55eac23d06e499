/**
 * The CSV files of a run directory, for spreadsheets and plotting tools:
 * summary.csv (one row per step ▸ phase ▸ operation) and server-metrics.csv
 * (the server's own samples, every 5 s).
 */
import { stringify } from 'csv-stringify/sync';
import type { RunSummary } from '../types/results.js';

/** One row per step ▸ phase ▸ operation, for spreadsheets. */
export function renderPhaseCsv(summary: RunSummary): string {
  return stringify(
    summary.phases.flatMap((p) =>
      p.ops.map((o) => ({
        step: p.step,
        level: p.level,
        crds: p.crds,
        phase: p.phase,
        op: o.op,
        count: o.count,
        ok: o.ok,
        errors: Object.entries(o.errors).map(([k, v]) => `${k}=${v}`).join(' '),
        throughput_per_s: o.throughput,
        bytes: o.bytes,
        p50_ms: o.latencyMs.p50,
        p90_ms: o.latencyMs.p90,
        p99_ms: o.latencyMs.p99,
        p999_ms: o.latencyMs.p999,
        max_ms: o.latencyMs.max,
        schedule_lag_p50_ms: o.op === p.primary && p.schedule ? p.schedule.lagMs.p50 : '',
        schedule_lag_p99_ms: o.op === p.primary && p.schedule ? p.schedule.lagMs.p99 : '',
        harness_cpu_cores: p.harness?.cpuCores ?? '',
        harness_saturated: p.harness?.saturated ?? '',
      })),
    ),
    { header: true },
  );
}

/**
 * The server's samples over the run, one row each: memory, CPU, 429s, APF,
 * etcd latency and stored objects. Fields a result predates are left empty.
 */
export function renderServerMetricsCsv(summary: RunSummary): string {
  const opt = (v: number | undefined) => v ?? '';
  const rows = (summary.serverSeries ?? []).map((s) => ({
    t_s: s.t,
    crds: s.crds,
    rss_bytes: s.rssBytes,
    cpu_cores: s.cpuCores,
    requests_429_total: s.requests429,
    apf_rejected_total: opt(s.apfRejected),
    apf_in_queue: opt(s.apfInQueue),
    apf_wait_p99_ms: opt(s.apfWaitP99Ms),
    etcd_p99_ms: opt(s.etcdP99Ms),
    stored_objects: opt(s.objects),
  }));
  const columns = ['t_s', 'crds', 'rss_bytes', 'cpu_cores', 'requests_429_total', 'apf_rejected_total', 'apf_in_queue', 'apf_wait_p99_ms', 'etcd_p99_ms', 'stored_objects'];
  return stringify(rows, { header: true, columns });
}
