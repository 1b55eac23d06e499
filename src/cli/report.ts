import type { CommandModule } from 'yargs';
import { stringify } from 'csv-stringify/sync';
import { analyze } from '../analysis/analyze.js';
import type { ReportInput } from '../reporters/view.js';
import { renderHtml } from '../reporters/html.js';
import { renderMarkdown } from '../reporters/markdown.js';
import { renderPhaseTable } from '../reporters/table.js';
import { readRunDir } from '../results/store.js';
import { UsageError } from '../types/errors.js';
import type { RunInfo, RunSummary } from '../types/results.js';
import type { Output } from './output.js';

export function reportInput(run: RunInfo, summary: RunSummary): ReportInput {
  const analysis = analyze(run, summary);
  return { run, summary, analysis: { headline: analysis.headline, findings: analysis.findings }, serverSeries: summary.serverSeries };
}

/** One row per step ▸ phase ▸ operation, for spreadsheets. */
/** The file beside intervals.csv with the server's own samples (every 5 s), for spreadsheets and plotting tools. */
export const SERVER_METRICS_FILE = 'server-metrics.csv';

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

export function reportCommand(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'report <run-dir>',
    describe: 'Re-render a saved run as a table, Markdown, HTML, CSV or JSON',
    builder: (y) =>
      y
        .positional('run-dir', { type: 'string', demandOption: true })
        .option('format', { choices: ['table', 'md', 'html', 'csv', 'json'] as const, default: 'table' as const }),
    handler: async (argv) => {
      const dir = argv['run-dir'] as string;
      const saved = await readRunDir(dir).catch((err: Error) => {
        throw new UsageError(`${dir}: not a readable results directory (${err.message})`, 'pass a folder written by `asa-bench run`');
      });
      const input = reportInput(saved.run, saved.summary);
      switch (argv.format) {
        case 'json':
          out.data(JSON.stringify({ ...saved, analysis: input.analysis }, null, 2));
          break;
        case 'md':
          out.data(renderMarkdown(input));
          break;
        case 'html':
          out.data(renderHtml(input));
          break;
        case 'csv':
          out.data(renderPhaseCsv(saved.summary));
          break;
        default:
          out.data(`run ${saved.run.runId}: ${saved.run.scenario.name} on ${saved.run.target.server} (kube-apiserver ${saved.run.target.version.gitVersion}), ${saved.run.status}`);
          out.data(input.analysis!.headline);
          out.data(renderPhaseTable(saved.summary.phases));
      }
    },
  };
}
