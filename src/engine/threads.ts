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
import { compilePlan, loadAt, type PlannedPhase } from '../scenarios/plan.js';
import type { ScenarioDoc } from '../scenarios/schema.js';
import { mergePhases } from '../shard/merge.js';
import { shareOf, sliceScenario } from '../shard/slice.js';
import { AsaError, ExitCode } from '../types/errors.js';
import type { PhaseResult, RunStatus } from '../types/results.js';
import { cleanup } from './cleanup.js';
import type { ExecuteResult, RunEvent } from './run.js';
import { phaseStats, ServerSampler } from './server-sampler.js';
import { connectionData, type MainMessage, type WorkerInit, type WorkerMessage } from './thread-protocol.js';

/** The events of an unthreaded run, merged over the threads; interval rows stay per thread. */
export type ThreadsEvent = Exclude<RunEvent, { type: 'interval' }> | (Extract<RunEvent, { type: 'interval' }> & { thread: number });

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

const SEVERITY: Record<RunStatus, number> = { complete: 0, partial: 1, failed: 2 };

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
  const count = options.runIds.length;
  const slices = threadSlices(options.scenario, count);
  const plan = compilePlan(options.scenario);
  const url = options.workerUrl ?? workerEntryUrl();
  if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
    throw new AsaError(`the worker thread entry ${fileURLToPath(url)} does not exist`, ExitCode.internal, 'build the project first: npm run build');
  }
  const startedAt = options.startedAt ?? performance.now();
  const progressMs = options.progressIntervalMs ?? 2000;
  const emit = options.onEvent;
  const label = (t: Thread) => `thread ${t.index}/${count}`;

  const byName = new Map<string, PlannedPhase>();
  for (const host of plan.phases) {
    byName.set(host.name, host);
    for (const c of host.companions) byName.set(c.name, c);
  }
  const totalGroups = plan.steps.length * plan.phases.length;

  const threads: Thread[] = [];
  const server = new ServerSampler(options.client, startedAt, () => threads.reduce((a, t) => a + t.crds, 0), (message) => emit({ type: 'message', message }));
  server.start();

  // ---- merging what the threads report --------------------------------------------------
  const parts = new Map<string, PhaseResult[]>();
  const phases: PhaseResult[] = [];
  const starts = new Map<string, { threads: number; total: number | undefined }>();
  const progress = new Map<string, { last: number; byThread: Map<number, { done: number; total?: number; errors: number }> }>();
  let expectedStarts = count;

  const stepOf = (index: number) => plan.steps[index];
  const onEvent = (t: Thread, event: RunEvent) => {
    switch (event.type) {
      case 'phase-start': {
        const key = `${event.step.index}\u0000${event.phase}`;
        const s = starts.get(key) ?? { threads: 0, total: 0 };
        s.threads++;
        s.total = s.total === undefined || event.total === undefined ? undefined : s.total + event.total;
        starts.set(key, s);
        const step = stepOf(event.step.index);
        const phase = byName.get(event.phase);
        if (s.threads === expectedStarts && step && phase) {
          const offered = loadAt(phase, step);
          const load = offered.model === 'open' ? `${offered.ratePerSecond}${offered.rampToPerSecond !== undefined ? `→${offered.rampToPerSecond}` : ''}/s` : `${offered.concurrency} concurrent`;
          emit({ type: 'phase-start', step, phase: event.phase, load, ...(s.total !== undefined ? { total: s.total } : {}) });
        }
        break;
      }
      case 'phase-progress': {
        const key = `${event.step.index}\u0000${event.phase}`;
        let p = progress.get(key);
        if (!p) progress.set(key, (p = { last: 0, byThread: new Map() }));
        p.byThread.set(t.index, { done: event.done, total: event.total, errors: event.errors });
        const now = performance.now();
        if (now - p.last >= progressMs * 0.9) {
          p.last = now;
          const all = [...p.byThread.values()];
          const total = all.every((x) => x.total !== undefined) ? all.reduce((a, x) => a + x.total!, 0) : undefined;
          emit({ type: 'phase-progress', step: stepOf(event.step.index) ?? event.step, phase: event.phase, done: all.reduce((a, x) => a + x.done, 0), errors: all.reduce((a, x) => a + x.errors, 0), ...(total !== undefined ? { total } : {}) });
        }
        break;
      }
      case 'phase-end': {
        const key = `${event.result.step}\u0000${event.result.phase}`;
        const list = parts.get(key) ?? [];
        list.push(event.result);
        parts.set(key, list);
        break;
      }
      case 'interval':
        if (event.crds !== undefined) t.crds = event.crds;
        emit({ ...event, step: stepOf(event.step.index) ?? event.step, thread: t.index });
        break;
      case 'message':
        emit({ type: 'message', message: `${label(t)}: ${event.message}` });
    }
  };

  /** The merged results of one step ▸ phase group, with the server's figures over the threads' common window. */
  const finishGroup = (group: { step: number; host: string }, before: ServerSnapshot | undefined, after: ServerSnapshot | undefined) => {
    const host = byName.get(group.host);
    const names = [group.host, ...(host?.companions.map((c) => c.name) ?? [])];
    for (const name of names) {
      const key = `${group.step}\u0000${name}`;
      const list = parts.get(key);
      if (!list || list.length === 0) continue;
      parts.delete(key);
      const { server: _none, ...merged } = mergePhases(list);
      const result: PhaseResult = before && after ? { ...merged, server: phaseStats(before, after) } : merged;
      phases.push(result);
      emit({ type: 'phase-end', result });
    }
  };

  // ---- the barrier ------------------------------------------------------------------------
  let current: { step: number; host: string } | undefined;
  let snapshot: ServerSnapshot | undefined;
  let completing = false;
  let stopping = false;
  const send = (t: Thread, message: MainMessage) => {
    if (t.alive) t.worker.postMessage(message);
  };
  const stopAll = (reason: string, except?: Thread) => {
    if (stopping) return;
    stopping = true;
    for (const t of threads) {
      if (t === except || t.ended) continue;
      if (except) t.stoppedBecause = reason;
      send(t, { type: 'stop', reason });
    }
  };
  const party = () => threads.filter((t) => t.alive && !t.ended);
  const maybeComplete = async (): Promise<void> => {
    if (completing) return;
    const members = party();
    if (members.length === 0 || !members.every((t) => t.arrival)) return;
    completing = true;
    try {
      const arrivals = members.map((t) => t.arrival!);
      const snap = await server.snapshot();
      try {
        if (current) finishGroup(current, snapshot, snap);
      } catch (err) {
        // Never leave the threads waiting at the barrier; the parts are merged at the end instead.
        emit({ type: 'message', message: `cannot merge the threads' results of ${current?.host}: ${(err as Error).message}` });
      }
      const next = arrivals.find((a) => a.phase !== undefined);
      current = next ? { step: next.step!, host: next.phase! } : undefined;
      snapshot = snap;
      expectedStarts = arrivals.filter((a) => !a.end).length;
      for (const t of members) {
        const a = t.arrival!;
        t.arrival = undefined;
        if (a.end) t.ended = true;
        else t.groups++;
        send(t, { type: 'go', seq: a.seq });
      }
    } finally {
      completing = false;
    }
    // Arrivals while the snapshot was taken, or threads that died meanwhile.
    await maybeComplete();
  };

  // Credentials the main thread re-reads (exec plugins, auth providers) go to every worker.
  const forwardCredentials = (headers: Readonly<Record<string, string>>) => threads.forEach((t) => send(t, { type: 'credentials', headers: { ...headers } }));
  options.client.onCredentialsChanged.add(forwardCredentials);
  const onAbort = () => stopAll(String(options.signal.reason ?? 'interrupted'));
  const onSkipCleanup = () => threads.forEach((t) => send(t, { type: 'skip-cleanup' }));
  const failures: Promise<void>[] = [];

  // ---- the threads --------------------------------------------------------------------------
  const base = connectionData(options.connection);
  const total = options.clientOptions.connections;
  const startedAtEpochMs = performance.timeOrigin + startedAt;
  for (let k = 0; k < count; k++) {
    const init: WorkerInit = {
      index: k + 1,
      count,
      scenario: slices[k]!,
      runId: options.runIds[k]!,
      connection: base,
      client: { ...options.clientOptions, connections: Math.max(1, shareOf(total, k + 1, count)) },
      local: options.local,
      finalizeNamespaces: options.finalizeNamespaces ?? options.local,
      keep: options.keep ?? false,
      startedAtEpochMs,
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
    };
    const worker = new Worker(url, { workerData: init, name: `asa-bench load ${k + 1}/${count}` });
    let exited!: () => void;
    const t: Thread = { index: k + 1, runId: init.runId, worker, exited: new Promise<void>((r) => (exited = r)), alive: true, ended: false, groups: 0, crds: 0 };
    threads.push(t);
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'event':
          onEvent(t, message.event);
          break;
        case 'barrier':
          // A thread that leaves the phases before the last one ended early: the run stops, as unthreaded.
          if (message.end && t.groups < totalGroups && !options.signal.aborted) stopAll(`${label(t)} ended early`, t);
          t.arrival = message;
          void maybeComplete();
          break;
        case 'result':
          t.result = message.result;
          // Its last message: give the thread a moment to end on its own.
          setTimeout(() => void worker.terminate(), 10_000).unref();
      }
    });
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
        emit({ type: 'message', message: `${label(t)} crashed: ${t.error}` });
        if (!options.signal.aborted) stopAll(`${label(t)} crashed`, t);
        failures.push(cleanUpAfter(t));
      }
      void maybeComplete();
      exited();
    });
  }
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.cleanupSignal?.aborted) onSkipCleanup();
  else options.cleanupSignal?.addEventListener('abort', onSkipCleanup, { once: true });

  /** A thread that died without its result leaves its objects behind: clean them up from here. */
  async function cleanUpAfter(t: Thread): Promise<void> {
    if (!plan.scenario.cleanup || options.keep || options.cleanupSignal?.aborted) {
      t.result = { phases: [], serverSeries: [], status: 'failed', reason: `crashed: ${t.error}`, cleanup: { crds: 0, namespaces: 0, leftover: 0, skipped: true } };
      return;
    }
    emit({ type: 'message', message: `cleaning up what ${label(t)} (run ${t.runId}) created` });
    let result: ExecuteResult['cleanup'];
    try {
      result = await cleanup(options.client, {
        runId: t.runId,
        finalizeNamespaces: options.finalizeNamespaces ?? options.local,
        progress: (message) => emit({ type: 'message', message: `${label(t)}: ${message}` }),
        signal: options.cleanupSignal,
      });
      if (options.cleanupSignal?.aborted) result = { ...result, skipped: true };
    } catch (err) {
      emit({ type: 'message', message: `cleanup of ${label(t)} failed: ${(err as Error).message}; run \`asa-bench cleanup --run ${t.runId}\`` });
      result = { crds: 0, namespaces: 0, leftover: -1 };
    }
    t.result = { phases: [], serverSeries: [], status: 'failed', reason: `crashed: ${t.error}`, cleanup: result };
  }

  try {
    await Promise.all(threads.map((t) => t.exited));
    await Promise.all(failures);
  } finally {
    options.client.onCredentialsChanged.delete(forwardCredentials);
    options.signal.removeEventListener('abort', onAbort);
    options.cleanupSignal?.removeEventListener('abort', onSkipCleanup);
    server.stop();
  }
  // Whatever no barrier closed (threads that died mid-phase): merged without server figures.
  if (current) finishGroup(current, undefined, undefined);
  for (const [key, list] of parts) {
    const [step, phase] = key.split('\u0000');
    if (list.length > 0) finishGroup({ step: Number(step), host: phase! }, undefined, undefined);
  }

  const runs: ThreadRun[] = threads.map((t) => {
    const r = t.result!;
    const reason = t.stoppedBecause && r.status !== 'complete' ? `stopped: ${t.stoppedBecause}` : r.reason;
    return { index: t.index, runId: t.runId, status: r.status, ...(reason !== undefined ? { reason } : {}), ...(r.cleanup ? { cleanup: r.cleanup } : {}) };
  });
  const status = runs.map((r) => r.status).reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'complete' as RunStatus);
  const notComplete = runs.filter((r) => r.status !== 'complete');
  const reasons = [...new Set(notComplete.map((r) => r.reason ?? r.status))];
  const reason = notComplete.length === 0 ? undefined : reasons.length === 1 && notComplete.length === count ? reasons[0] : notComplete.map((r) => `thread ${r.index}/${count}: ${r.reason ?? r.status}`).join('; ');
  const cleanups = runs.map((r) => r.cleanup).filter((c) => c !== undefined);
  const merged: ExecuteResult['cleanup'] =
    cleanups.length > 0
      ? {
          crds: cleanups.reduce((a, c) => a + c.crds, 0),
          namespaces: cleanups.reduce((a, c) => a + c.namespaces, 0),
          leftover: cleanups.some((c) => c.leftover < 0) ? -1 : cleanups.reduce((a, c) => a + c.leftover, 0),
          ...(cleanups.some((c) => c.skipped) ? { skipped: true } : {}),
        }
      : undefined;
  // Every thread probes the same server: its skipped work is the same sentence list.
  const skipped = [...new Set(threads.flatMap((t) => t.result?.skipped ?? []))];
  return { phases, serverSeries: server.series, status, ...(reason !== undefined ? { reason } : {}), ...(merged ? { cleanup: merged } : {}), ...(skipped.length > 0 ? { skipped } : {}), threads: runs };
}
