/**
 * Threads: one process offers the load from N worker threads, so a remote
 * target can be driven with more than one core. Each worker (thread-worker.ts)
 * runs slice i/N of the validated scenario with the same rules as shards
 * (src/shard/slice.ts: CRDs, repeat counts,
 * rates, concurrency and watchers split, objects per CRD kept), under its own
 * run id (so names and labels never collide), with its own KubeClient and
 * connection pool (the connection total split the same way). Workers post
 * back only events, barrier arrivals and their result, whose summaries carry
 * encoded HDR histograms: the main thread merges histograms exactly, never
 * samples (src/shard/merge.ts, as `asa-bench merge` does for shards).
 *
 * Beyond what separate shards do, one process can keep the threads together:
 * - Barrier: every step ▸ phase group starts when every live thread has
 *   finished the previous one, so the threads' phases run at the same time
 *   (install, then create, ...) as in an unthreaded run, instead of drifting
 *   apart (a thread still installing CRDs while another lists would measure
 *   neither phase).
 * - Done once, in the main thread: scraping the server's /metrics (the series
 *   every 5 s, and one snapshot at each barrier, so each phase's server
 *   figures cover the threads' common window: no N copies of the ~100 ms
 *   parse on the load threads, no N times the scrape load on the server);
 *   progress and result files. Done per thread, on disjoint sets, so not
 *   repeated: namespace setup and cleanup (each thread creates and deletes
 *   only what carries its own run id, concurrently). A thread that crashes is
 *   cleaned up by the main thread.
 * - A thread that stops early (onError: abort-run, an error) stops the
 *   others, as an unthreaded run stops; Ctrl-C stops every thread, each keeps
 *   what it measured and cleans up; a second Ctrl-C skips cleanup.
 * - Harness self-metrics are measured per thread (each its own event loop,
 *   thread CPU); the merged phase keeps the worst figure and is saturated if
 *   any thread was (mergeHarness).
 * Never prints.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ClientOptions, KubeClient } from '../kube/client.js';
import type { Connection } from '../kube/target.js';
import type { ServerSnapshot } from '../metrics/server-metrics.js';
import { compilePlan, type Plan } from '../scenarios/plan.js';
import type { ScenarioDoc } from '../scenarios/schema.js';
import { shareOf, sliceScenario } from '../shard/slice.js';
import { AsaError, ExitCode } from '../types/errors.js';
import { worstStatus, type RunStatus } from '../types/results.js';
import { addCleanups, cleanup } from './cleanup.js';
import type { ExecuteResult } from './run.js';
import { ServerSampler } from './server-sampler.js';
import { ThreadMerge, type PhaseGroup, type ThreadsEvent } from './thread-merge.js';
import { connectionData, type MainMessage, type WorkerInit, type WorkerMessage } from './thread-protocol.js';

export type { ThreadsEvent } from './thread-merge.js';

export interface ThreadRun {
  /** 1-based. */
  index: number;
  runId: string;
  status: RunStatus;
  reason?: string;
  cleanup?: ExecuteResult['cleanup'];
}

export interface ThreadsOptions {
  /** The validated scenario (already sliced when the run is a --shard). */
  scenario: ScenarioDoc;
  /** One run id per thread; their count is the number of threads. */
  runIds: readonly string[];
  connection: Connection;
  /** The main thread's client: /metrics scrapes, and cleanup of a thread that crashed. */
  client: KubeClient;
  /** `connections` is the total, split over the threads. */
  clientOptions: ClientOptions;
  local: boolean;
  /** See ExecuteOptions.finalizeNamespaces. */
  finalizeNamespaces?: boolean;
  signal: AbortSignal;
  cleanupSignal?: AbortSignal;
  onEvent: (event: ThreadsEvent) => void;
  keep?: boolean;
  /** performance.now() at the run's start (default: now). */
  startedAt?: number;
  progressIntervalMs?: number;
  /** The compiled worker entry (default: workerEntryUrl()). */
  workerUrl?: URL;
}

export interface ThreadsResult extends ExecuteResult {
  threads: ThreadRun[];
}

/**
 * The worker entry next to this module once compiled (dist/engine). Run from
 * the TypeScript sources (vitest), this module is src/engine/threads.ts and
 * the worker is taken from dist/: a worker thread is plain Node, which cannot
 * load the .ts sources (their imports name .js files), so the build must be
 * current (`npm run build`).
 */
export function workerEntryUrl(from: string = import.meta.url): URL {
  const here = new URL(from);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/engine/thread-worker.js', here) : new URL('./thread-worker.js', here);
}

/** The N slices of a validated scenario; UnsplittableError (shard/slice.ts) when some thread would get no CRDs. */
export function threadSlices(scenario: ScenarioDoc, count: number): ScenarioDoc[] {
  // The CLI validates what users typed; this guards against a caller's bug.
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`threads ${count}: expected a whole number ≥ 1`);
  return Array.from({ length: count }, (_, k) => sliceScenario(scenario, k + 1, count));
}

interface Arrival {
  seq: number;
  step?: number;
  phase?: string;
  end?: true;
}

interface Thread {
  index: number;
  runId: string;
  worker: Worker;
  exited: Promise<void>;
  alive: boolean;
  /** Released from the final barrier: no longer part of barriers. */
  ended: boolean;
  arrival?: Arrival;
  /** Phase groups this thread was released into. */
  groups: number;
  crds: number;
  result?: ExecuteResult;
  error?: string;
  /** Set when the main thread stopped this thread because another one ended early. */
  stoppedBecause?: string;
}

export async function runThreads(options: ThreadsOptions): Promise<ThreadsResult> {
  const slices = threadSlices(options.scenario, options.runIds.length);
  const plan = compilePlan(options.scenario);
  const url = options.workerUrl ?? workerEntryUrl();
  if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
    throw new AsaError(`the worker thread entry ${fileURLToPath(url)} does not exist`, ExitCode.internal, 'build the project first: npm run build');
  }
  const run = new ThreadedRun(options, plan);
  run.start(url, slices);
  await run.finished();
  return run.result();
}

/** One run over N load threads: the threads, the barrier between step ▸ phase groups, the server's figures, the merge. */
class ThreadedRun {
  private readonly threads: Thread[] = [];
  private readonly count: number;
  private readonly startedAt: number;
  private readonly emit: (event: ThreadsEvent) => void;
  private readonly merge: ThreadMerge;
  private readonly server: ServerSampler;
  private readonly totalGroups: number;
  /** The group the threads are in, and the server's snapshot at its start. */
  private current: PhaseGroup | undefined;
  private snapshot: ServerSnapshot | undefined;
  private completing = false;
  private stopping = false;
  /** Cleanups of threads that crashed. */
  private readonly failures: Promise<void>[] = [];

  constructor(
    private readonly options: ThreadsOptions,
    private readonly plan: Plan,
  ) {
    this.count = options.runIds.length;
    this.startedAt = options.startedAt ?? performance.now();
    this.emit = options.onEvent;
    this.merge = new ThreadMerge(plan, this.count, this.emit, options.progressIntervalMs ?? 2000);
    this.totalGroups = plan.steps.length * plan.phases.length;
    this.server = new ServerSampler(options.client, this.startedAt, () => this.threads.reduce((a, t) => a + t.crds, 0), (message) => this.emit({ type: 'message', message }));
    this.server.start();
  }

  private label(t: Thread): string {
    return `thread ${t.index}/${this.count}`;
  }

  private send(t: Thread, message: MainMessage): void {
    if (t.alive) t.worker.postMessage(message);
  }

  private stopAll(reason: string, except?: Thread): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.threads) {
      if (t === except || t.ended) continue;
      if (except) t.stoppedBecause = reason;
      this.send(t, { type: 'stop', reason });
    }
  }

  // Credentials the main thread re-reads (exec plugins, auth providers) go to every worker.
  private readonly forwardCredentials = (headers: Readonly<Record<string, string>>) => this.threads.forEach((t) => this.send(t, { type: 'credentials', headers: { ...headers } }));
  private readonly onAbort = () => this.stopAll(String(this.options.signal.reason ?? 'interrupted'));
  private readonly onSkipCleanup = () => this.threads.forEach((t) => this.send(t, { type: 'skip-cleanup' }));

  /** Starts every thread on its slice, and passes Ctrl-C (stop, skip cleanup) on to them. */
  start(url: URL, slices: readonly ScenarioDoc[]): void {
    const { options } = this;
    options.client.onCredentialsChanged.add(this.forwardCredentials);
    const base = connectionData(options.connection);
    const startedAtEpochMs = performance.timeOrigin + this.startedAt;
    for (let k = 0; k < this.count; k++) {
      this.spawn(url, {
        index: k + 1,
        count: this.count,
        scenario: slices[k]!,
        runId: options.runIds[k]!,
        connection: base,
        client: { ...options.clientOptions, connections: Math.max(1, shareOf(options.clientOptions.connections, k + 1, this.count)) },
        local: options.local,
        finalizeNamespaces: options.finalizeNamespaces ?? options.local,
        keep: options.keep ?? false,
        startedAtEpochMs,
        ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
      });
    }
    if (options.signal.aborted) this.onAbort();
    else options.signal.addEventListener('abort', this.onAbort, { once: true });
    if (options.cleanupSignal?.aborted) this.onSkipCleanup();
    else options.cleanupSignal?.addEventListener('abort', this.onSkipCleanup, { once: true });
  }

  private spawn(url: URL, init: WorkerInit): void {
    const worker = new Worker(url, { workerData: init, name: `asa-bench load ${init.index}/${init.count}` });
    let exited!: () => void;
    const t: Thread = { index: init.index, runId: init.runId, worker, exited: new Promise<void>((r) => (exited = r)), alive: true, ended: false, groups: 0, crds: 0 };
    this.threads.push(t);
    worker.on('message', (message: WorkerMessage) => this.onMessage(t, message));
    worker.on('error', (err) => {
      t.error ??= err.message;
    });
    worker.on('messageerror', (err) => {
      t.error ??= `unreadable message: ${err.message}`;
    });
    worker.on('exit', (code) => {
      t.alive = false;
      if (!t.result) {
        t.error ??= `exited with code ${code}`;
        this.emit({ type: 'message', message: `${this.label(t)} crashed: ${t.error}` });
        if (!this.options.signal.aborted) this.stopAll(`${this.label(t)} crashed`, t);
        this.failures.push(this.cleanUpAfter(t));
      }
      void this.maybeComplete();
      exited();
    });
  }

  private onMessage(t: Thread, message: WorkerMessage): void {
    switch (message.type) {
      case 'event':
        this.merge.onEvent(t, this.label(t), message.event);
        break;
      case 'barrier':
        // A thread that leaves the phases before the last one ended early: the run stops, as unthreaded.
        if (message.end && t.groups < this.totalGroups && !this.options.signal.aborted) this.stopAll(`${this.label(t)} ended early`, t);
        t.arrival = message;
        void this.maybeComplete();
        break;
      case 'result':
        t.result = message.result;
        // Its last message: give the thread a moment to end on its own.
        setTimeout(() => void t.worker.terminate(), 10_000).unref();
    }
  }

  /** The barrier: when every live thread has arrived, close the group (merged, with the server's figures) and release them into the next. */
  private async maybeComplete(): Promise<void> {
    if (this.completing) return;
    const members = this.threads.filter((t) => t.alive && !t.ended);
    if (members.length === 0 || !members.every((t) => t.arrival)) return;
    this.completing = true;
    try {
      const arrivals = members.map((t) => t.arrival!);
      const snap = await this.server.snapshot();
      try {
        if (this.current) this.merge.finishGroup(this.current, this.snapshot, snap);
      } catch (err) {
        // Never leave the threads waiting at the barrier; the parts are merged at the end instead.
        this.emit({ type: 'message', message: `cannot merge the threads' results of ${this.current?.host}: ${(err as Error).message}` });
      }
      const next = arrivals.find((a) => a.phase !== undefined);
      this.current = next ? { step: next.step!, host: next.phase! } : undefined;
      this.snapshot = snap;
      this.merge.expectedStarts = arrivals.filter((a) => !a.end).length;
      for (const t of members) {
        const a = t.arrival!;
        t.arrival = undefined;
        if (a.end) t.ended = true;
        else t.groups++;
        this.send(t, { type: 'go', seq: a.seq });
      }
    } finally {
      this.completing = false;
    }
    // Arrivals while the snapshot was taken, or threads that died meanwhile.
    await this.maybeComplete();
  }

  /** A thread that died without its result leaves its objects behind: clean them up from here. */
  private async cleanUpAfter(t: Thread): Promise<void> {
    const { options } = this;
    if (!this.plan.scenario.cleanup || options.keep || options.cleanupSignal?.aborted) {
      t.result = { phases: [], serverSeries: [], status: 'failed', reason: `crashed: ${t.error}`, cleanup: { crds: 0, namespaces: 0, leftover: 0, skipped: true } };
      return;
    }
    this.emit({ type: 'message', message: `cleaning up what ${this.label(t)} (run ${t.runId}) created` });
    let result: ExecuteResult['cleanup'];
    try {
      result = await cleanup(options.client, {
        runId: t.runId,
        finalizeNamespaces: options.finalizeNamespaces ?? options.local,
        progress: (message) => this.emit({ type: 'message', message: `${this.label(t)}: ${message}` }),
        signal: options.cleanupSignal,
      });
      if (options.cleanupSignal?.aborted) result = { ...result, skipped: true };
    } catch (err) {
      // leftover -1: unknown; the CLI says how to remove what is left.
      this.emit({ type: 'message', message: `cleanup of ${this.label(t)} (run ${t.runId}) failed: ${(err as Error).message}` });
      result = { crds: 0, namespaces: 0, leftover: -1 };
    }
    t.result = { phases: [], serverSeries: [], status: 'failed', reason: `crashed: ${t.error}`, cleanup: result };
  }

  /** Every thread ended (and those that crashed cleaned up after); then what no barrier closed is merged. */
  async finished(): Promise<void> {
    const { options } = this;
    try {
      await Promise.all(this.threads.map((t) => t.exited));
      await Promise.all(this.failures);
    } finally {
      options.client.onCredentialsChanged.delete(this.forwardCredentials);
      options.signal.removeEventListener('abort', this.onAbort);
      options.cleanupSignal?.removeEventListener('abort', this.onSkipCleanup);
      this.server.stop();
    }
    this.merge.finishRest(this.current);
  }

  result(): ThreadsResult {
    const runs: ThreadRun[] = this.threads.map((t) => {
      const r = t.result!;
      const reason = t.stoppedBecause && r.status !== 'complete' ? `stopped: ${t.stoppedBecause}` : r.reason;
      return { index: t.index, runId: t.runId, status: r.status, ...(reason !== undefined ? { reason } : {}), ...(r.cleanup ? { cleanup: r.cleanup } : {}) };
    });
    const { status, reason } = overallStatus(runs, this.count);
    const cleanup = addCleanups(runs.map((r) => r.cleanup).filter((c) => c !== undefined));
    // Every thread probes the same server: its skipped work is the same sentence list.
    const skipped = [...new Set(this.threads.flatMap((t) => t.result?.skipped ?? []))];
    return { phases: this.merge.phases, serverSeries: this.server.series, status, ...(reason !== undefined ? { reason } : {}), ...(cleanup ? { cleanup } : {}), ...(skipped.length > 0 ? { skipped } : {}), threads: runs };
  }
}

/** The worst thread's status; the reason the threads share, or each one's that did not complete. */
function overallStatus(runs: readonly ThreadRun[], count: number): { status: RunStatus; reason?: string } {
  const status = worstStatus(runs.map((r) => r.status));
  const notComplete = runs.filter((r) => r.status !== 'complete');
  const reasons = [...new Set(notComplete.map((r) => r.reason ?? r.status))];
  const reason = notComplete.length === 0 ? undefined : reasons.length === 1 && notComplete.length === count ? reasons[0] : notComplete.map((r) => `thread ${r.index}/${count}: ${r.reason ?? r.status}`).join('; ');
  return { status, ...(reason !== undefined ? { reason } : {}) };
}
