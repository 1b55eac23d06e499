/**
 * The run directory while a run is on: run.json at the start (status
 * `partial`), summary.json rewritten after every phase and intervals.csv
 * appended every second (so an interrupted or crashed run keeps what it
 * measured), then at the end the final run.json and summary.json and the
 * files rendered from them (report.md, report.html, summary.csv,
 * server-metrics.csv). It consumes the engine's events and never prints: the
 * CLI wires it and prints.
 */
import { stringify } from 'csv-stringify/sync';
import { analyze } from '../analysis/analyze.js';
import type { ExecuteResult, RunEvent } from '../engine/run.js';
import type { ThreadRun, ThreadsEvent } from '../engine/threads.js';
import { renderPhaseCsv, renderServerMetricsCsv } from '../reporters/csv.js';
import { renderHtml } from '../reporters/html.js';
import { renderMarkdown } from '../reporters/markdown.js';
import type { ReportInput } from '../reporters/view.js';
import { RESULT_FORMAT_VERSION, type PhaseResult, type RunInfo, type RunSummary, type TenantResult } from '../types/results.js';
import { ResultStore } from './store.js';

/** One row per operation and second of a running phase (written as the run goes). */
export const INTERVALS_FILE = 'intervals.csv';
/** The file beside intervals.csv with the server's own samples (every 5 s), for spreadsheets and plotting tools. */
export const SERVER_METRICS_FILE = 'server-metrics.csv';

/** What the reports show besides the data: the analysis's headline and findings. */
export function reportInput(run: RunInfo, summary: RunSummary): ReportInput {
  const analysis = analyze(run, summary);
  return { run, summary, analysis: { headline: analysis.headline, findings: analysis.findings }, serverSeries: summary.serverSeries };
}

/** A finished run's files: summary.json, run.json, then the files rendered from them (also what `merge` writes). */
export async function writeFinishedRun(store: ResultStore, run: RunInfo, summary: RunSummary): Promise<ReportInput> {
  await store.writeSummary(summary);
  await store.writeRun(run);
  const report = reportInput(run, summary);
  await store.writeText('report.md', renderMarkdown(report));
  await store.writeText('report.html', renderHtml(report));
  await store.writeText('summary.csv', renderPhaseCsv(summary));
  await store.writeText(SERVER_METRICS_FILE, renderServerMetricsCsv(summary));
  return report;
}

/** What a run's engine hands back: one plan's result, with the threads' or the tenants' own parts. */
export type EngineResult = ExecuteResult & { threads?: ThreadRun[]; tenants?: TenantResult[] };

/** What was measured beside the engine: the storage process (run.json) and the profiles (summary.json). */
export interface RunExtras {
  storage?: RunInfo['storage'];
  profiles?: RunSummary['profiles'];
}

export interface FinishedRun {
  run: RunInfo;
  summary: RunSummary;
  report: ReportInput;
}

export interface RunWriterOptions {
  /**
   * The extra column of intervals.csv: `thread` (--threads, one row per thread
   * and second: percentiles do not add up) or `tenant` (tenants=N, the tenant's index).
   */
  column?: 'thread' | 'tenant';
  /** Told when a write in the background fails (the run goes on). */
  onWriteError: (message: string) => void;
}

export class RunWriter {
  private readonly phases: PhaseResult[] = [];

  private constructor(
    /** The folder's store, for what else writes into the run directory (profiles/). */
    readonly store: ResultStore,
    private readonly info: RunInfo,
    private readonly onWriteError: (message: string) => void,
  ) {}

  /** Creates the folder and writes run.json (`partial`, `running`) and the intervals.csv header. */
  static async open(dir: string, info: RunInfo, options: RunWriterOptions): Promise<RunWriter> {
    const store = new ResultStore(dir);
    await store.init();
    await store.writeRun(info);
    await store.writeText(INTERVALS_FILE, stringify([['t_s', 'step', 'level', 'phase', 'op', 'count', 'errors', 'throttled_429', 'p50_ms', 'p99_ms', 'max_ms', ...(options.column ? [options.column] : [])]]));
    return new RunWriter(store, info, options.onWriteError);
  }

  get dir(): string {
    return this.store.dir;
  }

  /** Takes every engine event; keeps what belongs in the run directory. */
  onEvent(event: RunEvent | ThreadsEvent): void {
    if (event.type === 'phase-end') {
      this.phases.push(event.result);
      // Rewritten after every phase, so an interrupted run keeps what it measured.
      this.store.writeSummary({ formatVersion: RESULT_FORMAT_VERSION, runId: this.info.runId, phases: this.phases }).catch((err: Error) => this.onWriteError(`cannot write summary: ${err.message}`));
    } else if (event.type === 'interval') {
      const column = 'thread' in event ? [event.thread] : [];
      const rows = event.rows.map((r) => [event.t, event.step.index, event.step.level, event.phase, r.op, r.count, r.errors, r.throttled, r.p50Ms, r.p99Ms, r.maxMs, ...column]);
      this.store.append(INTERVALS_FILE, stringify(rows)).catch((err: Error) => this.onWriteError(`cannot append ${INTERVALS_FILE}: ${err.message}`));
    }
  }

  /** The final run.json and summary.json, then the files rendered from them. */
  async finish(result: EngineResult, extras: RunExtras = {}): Promise<FinishedRun> {
    const cleanupInfo = (c: ExecuteResult['cleanup']) => c && { deleted: c.crds + c.namespaces, leftover: c.leftover, skipped: c.skipped };
    const run: RunInfo = {
      ...this.info,
      endedAt: new Date().toISOString(),
      status: result.status,
      reason: result.reason,
      ...(result.stoppedAt ? { stoppedAt: result.stoppedAt } : {}),
      cleanup: cleanupInfo(result.cleanup),
      ...(result.skipped ? { skipped: result.skipped } : {}),
      ...(extras.storage ? { storage: extras.storage } : {}),
      ...(result.threads ? { threads: result.threads.map((t) => ({ ...t, cleanup: cleanupInfo(t.cleanup) })) } : {}),
    };
    const summary: RunSummary = {
      formatVersion: RESULT_FORMAT_VERSION,
      runId: this.info.runId,
      phases: result.phases,
      serverSeries: result.serverSeries,
      ...(result.tenants ? { tenants: result.tenants } : {}),
      ...(extras.profiles ? { profiles: extras.profiles } : {}),
    };
    return { run, summary, report: await writeFinishedRun(this.store, run, summary) };
  }

  /** Keeps the server's side of the story (the last part of its logs) in `logs/`. */
  keepLogTails(fromDir: string, names: string[]): Promise<void> {
    return this.store.copyLogTails(fromDir, names);
  }
}
