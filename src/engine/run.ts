/**
 * Executes a Plan against a target: steps ▸ phases, each phase with its load
 * model, companions (`during`) alongside their host, the scenario's onError
 * policy, and cleanup of everything the run created. Reports through events;
 * never prints.
 */
import type { KubeClient } from '../kube/client.js';
import { HarnessMonitor, judgeSchedule, withScheduleVerdict } from '../metrics/harness.js';
import { encodeHistogram, latencySummaryMs } from '../metrics/histogram.js';
import { PhaseRecorder, type IntervalRow } from '../metrics/recorder.js';
import { generatorInputs, loadAt, type LoadModel, type Plan, type PlannedPhase, type PlannedStep } from '../scenarios/plan.js';
import type { PhaseResult, RunStatus, ScheduleStats, ServerSample, StoppedAt } from '../types/results.js';
import { liveCrdCount } from './context.js';
import { phaseStats, ServerSampler } from './server-sampler.js';
import { probeCapabilities, skippedWork } from './capabilities.js';
import { cleanup, type CleanupResult } from './cleanup.js';
import type { EngineContext, RunState } from './context.js';
import { runClosed, runOpen, type Iteration, type Limits, type Sink } from './load-models.js';
import { EstablishedWatch } from './established.js';
import { guardFloorBytes, StopMonitor, type StepTiming, type StopOptions } from './stop.js';
import { buildOperation, ensureNamespaces } from './ops.js';
import type { Operation } from './operation.js';
import { InFlight } from './in-flight.js';

export type RunEvent =
  | { type: 'phase-start'; step: PlannedStep; phase: string; total?: number; load: string }
  | {
      type: 'phase-progress';
      step: PlannedStep;
      phase: string;
      done: number;
      total?: number;
      errors: number;
      /** Iterations started and not finished, and how long the oldest of them has waited (ms). */
      inFlight: number;
      oldestPendingMs?: number;
      /** In-flight iterations per stage the operation names (`waiting for Established`). */
      waiting?: Record<string, number>;
    }
  | { type: 'phase-end'; result: PhaseResult }
  | { type: 'message'; message: string }
  /** A stop condition (or the memory guard) tripped: the run finishes what it must and ends complete. */
  | { type: 'stopping'; stoppedAt: StoppedAt }
  /** Once a second per running phase: what happened in that second (for intervals.csv). */
  | { type: 'interval'; t: number; step: PlannedStep; phase: string; rows: IntervalRow[]; /** CRDs that exist at that moment. */ crds?: number };

export interface ExecuteOptions {
  client: KubeClient;
  runId: string;
  /** Target is the embedded control plane (see cleanup.ts on namespaces). */
  local: boolean;
  /**
   * Finalize deleted namespaces by hand: only on a local control plane without a
   * namespace controller (controllers=none). Default: `local`.
   */
  finalizeNamespaces?: boolean;
  signal: AbortSignal;
  onEvent: (event: RunEvent) => void;
  /**
   * The target is this run's own control plane, stopped and deleted with its data when the run
   * ends: cleanup deletes nothing one by one (deleting thousands of CRDs made kube-apiserver grow
   * by gigabytes, for a server about to be thrown away).
   */
  ephemeral?: boolean;
  /** Stop conditions and the memory guard (src/engine/stop.ts). */
  stop?: StopOptions;
  /** Keep what the run created (`--keep`), overriding the scenario's cleanup. */
  keep?: boolean;
  /** Aborting it skips (or stops) cleanup: a second Ctrl-C. */
  cleanupSignal?: AbortSignal;
  progressIntervalMs?: number;
  /** performance.now() at the run's start, the zero of interval timestamps (default: now). */
  startedAt?: number;
  /** false: do not scrape the server's /metrics (`run --threads`: the main thread scrapes once for every worker). */
  serverMetrics?: boolean;
  /** Awaited before each step ▸ phase group starts (`run --threads`: a barrier, so the workers run each phase together). */
  beforePhase?: (step: PlannedStep, phase: string) => Promise<void>;
  /** Awaited once after the last phase (or when the run stopped), before cleanup. */
  afterPhases?: () => Promise<void>;
}

export interface ExecuteResult {
  phases: PhaseResult[];
  serverSeries: ServerSample[];
  status: RunStatus;
  reason?: string;
  /** The run stopped early on a stop condition or the memory guard (status stays complete). */
  stoppedAt?: StoppedAt;
  cleanup?: CleanupResult & { skipped?: boolean };
  /** What the plan asked for and this server cannot serve, one sentence each (capabilities.ts). */
  skipped?: string[];
}

export async function executePlan(plan: Plan, options: ExecuteOptions): Promise<ExecuteResult> {
  options = { ...options, startedAt: options.startedAt ?? performance.now() };
  const inputs = generatorInputs(plan.scenario, options.runId);
  const capabilities = await probeCapabilities(options.client, options.signal);
  const skipped = skippedWork(plan, capabilities);
  for (const message of skipped) options.onEvent({ type: 'message', message: `skipped: ${message}` });
  const ctx = engineContext(plan, options, inputs, capabilities.coreApi);
  const runAbort = new AbortController();
  const signal = AbortSignal.any([options.signal, runAbort.signal]);
  const server = options.serverMetrics === false ? undefined : new ServerSampler(options.client, options.startedAt!, () => liveCrdCount(ctx), (message) => options.onEvent({ type: 'message', message }));
  server?.start();
  const stops = new RunStops(options, signal, ctx);
  if (server && stops.monitor?.watchesMemory) server.onSample = (sample) => stops.monitor!.observe({ rssBytes: sample.rssBytes, crds: sample.crds });
  const phases: PhaseResult[] = [];
  let status: RunStatus = 'complete';
  let reason: string | undefined;
  try {
    // Namespaces are setup, not measurement: create them before the first step.
    if (inputs.objects) await ensureNamespaces(ctx);
    await runSteps({ ctx, plan, options, server, runAbort, signal, stops, phases });
    if (options.signal.aborted) {
      status = 'partial';
      reason = 'interrupted';
    } else if (runAbort.signal.aborted) {
      status = 'failed';
      reason = String(runAbort.signal.reason ?? 'aborted by onError: abort-run');
    }
  } catch (err) {
    status = phases.length > 0 ? 'partial' : 'failed';
    reason = (err as Error).message;
    options.onEvent({ type: 'message', message: `run stopped: ${reason}` });
  } finally {
    stops.dispose();
  }
  await options.afterPhases?.();
  await ctx.crdWatch?.stop();
  server?.stop();
  if (server && server.scrapes.count > 0) {
    const sc = server.scrapes;
    options.onEvent({ type: 'message', message: `/metrics: ${sc.count} scrapes, ${(sc.bytes / 2 ** 20).toFixed(0)} MiB read, ${(sc.ms / 1000).toFixed(0)} s in all (longest ${(sc.ms > 0 ? sc.maxMs / 1000 : 0).toFixed(1)} s)` });
  }
  const cleanupResult = await cleanUpAfterRun(plan, options, capabilities.coreApi);
  const { stoppedAt } = stops;
  return { phases, serverSeries: server?.series ?? [], status, reason, ...(stoppedAt ? { stoppedAt } : {}), cleanup: cleanupResult, ...(skipped.length > 0 ? { skipped } : {}) };
}

function engineContext(plan: Plan, options: ExecuteOptions, inputs: ReturnType<typeof generatorInputs>, coreApi: boolean): EngineContext {
  const state: RunState = { installed: 0, missingCrds: new Set(), crdPostsFailed: 0, missingObjects: new Set(), withObjects: 0, extraObjects: 0, extraPerCrd: new Map(), namespacesReady: false };
  const waitsForCrds = plan.scenario.phases.some((p) => p.op === 'create' && p.of === 'crds' && p.waitFor !== undefined);
  return {
    client: options.client,
    runId: options.runId,
    local: options.local,
    crds: inputs.crds!,
    objects: inputs.objects,
    state,
    honorRetryAfter: plan.scenario.honorRetryAfter,
    coreApi,
    ...(waitsForCrds ? { crdWatch: new EstablishedWatch(options.client, options.runId) } : {}),
  };
}

/**
 * Stop conditions and the memory guard over one run. A stop condition ends the
 * run `complete` after the step: it aborts neither the run nor a phase; only
 * the guard's emergency brake (checked every second) also aborts the phase.
 */
class RunStops {
  readonly monitor: StopMonitor | undefined;
  private readonly brakeAbort = new AbortController();
  /** The phases' signal: the run's, or the emergency brake. */
  readonly phaseSignal: AbortSignal;
  stoppedAt: StoppedAt | undefined;
  /** The phase running now, which the brake judges. */
  current: { step: PlannedStep; phase: string } | undefined;
  private readonly brake: NodeJS.Timeout | undefined;
  private readonly onEvent: ExecuteOptions['onEvent'];

  constructor(options: ExecuteOptions, runSignal: AbortSignal, ctx: EngineContext) {
    this.onEvent = options.onEvent;
    this.monitor = options.stop ? new StopMonitor(options.stop, options.startedAt!) : undefined;
    this.phaseSignal = AbortSignal.any([runSignal, this.brakeAbort.signal]);
    const monitor = this.monitor;
    this.brake =
      monitor && options.stop?.guard
        ? setInterval(() => {
            const at = this.current && monitor.emergency(this.current.step, this.current.phase, createdCrds(ctx));
            if (at && !this.stoppedAt) {
              this.stop(at);
              this.brakeAbort.abort('memory guard: the machine is running out of memory');
            }
          }, 1000)
        : undefined;
    this.brake?.unref();
  }

  stop(at: StoppedAt): void {
    if (this.stoppedAt) return;
    this.stoppedAt = at;
    this.onEvent({ type: 'stopping', stoppedAt: at });
  }

  dispose(): void {
    if (this.brake) clearInterval(this.brake);
  }
}

interface StepsRun extends Omit<PhaseEnv, 'step' | 'runSignal'> {
  /** The run's signal (Ctrl-C, onError abort-run). */
  signal: AbortSignal;
  stops: RunStops;
  /** Every phase's result, as it ends. */
  phases: PhaseResult[];
}

/** The steps in order, until the plan ends, a stop condition trips or the run is aborted. */
async function runSteps(run: StepsRun): Promise<void> {
  const { ctx, stops } = run;
  let last: PlannedStep | undefined;
  let timing: StepTiming | undefined;
  for (const step of run.plan.steps) {
    const ahead = stops.monitor?.beforeStep(step, last, createdCrds(ctx), timing);
    if (ahead) {
      stops.stop(ahead);
      break;
    }
    const stepStarted = performance.now();
    const installedBefore = createdCrds(ctx);
    const installMs = await runStep(run, step);
    if (installMs === undefined) break;
    last = step;
    const stepMs = performance.now() - stepStarted;
    timing = { installMs, installedCrds: createdCrds(ctx) - installedBefore, measureMs: stepMs - installMs };
    if (stops.stoppedAt) break;
  }
}

/** One step's phase groups in order: the time spent installing CRDs, or undefined when the run ended within the step. */
async function runStep(run: StepsRun, step: PlannedStep): Promise<number | undefined> {
  const { ctx, stops, options } = run;
  let installMs = 0;
  for (const phase of run.plan.phases) {
    if (run.signal.aborted) return undefined;
    if (stops.stoppedAt && StopMonitor.endsStepAtOnce(stops.stoppedAt)) return undefined;
    if (options.beforePhase) {
      await options.beforePhase(step, phase.name);
      if (run.signal.aborted) return undefined;
    }
    stops.current = { step, phase: phase.name };
    const phaseStarted = performance.now();
    const results = await runPhaseGroup({ ctx, plan: run.plan, step, runSignal: stops.phaseSignal, runAbort: run.runAbort, options, server: run.server }, phase);
    if (phase.doc.op === 'create' && phase.doc.of === 'crds') installMs += performance.now() - phaseStarted;
    for (const r of results) {
      run.phases.push(r);
      options.onEvent({ type: 'phase-end', result: r });
      const at = stops.monitor?.afterPhase(step, r, createdCrds(ctx));
      if (at) stops.stop(at);
    }
  }
  return installMs;
}

/** Deletes what the run created, unless kept, skipped (second Ctrl-C) or pointless (the run's own control plane goes with it). */
async function cleanUpAfterRun(plan: Plan, options: ExecuteOptions, coreApi: boolean): Promise<ExecuteResult['cleanup']> {
  const wanted = plan.scenario.cleanup && !options.keep && !options.cleanupSignal?.aborted;
  if (wanted && options.ephemeral) {
    options.onEvent({ type: 'message', message: "cleanup: nothing deleted one by one: this run's own control plane is stopped and its data deleted" });
    return { crds: 0, namespaces: 0, leftover: 0, skipped: true };
  }
  if (!wanted) return { crds: 0, namespaces: 0, leftover: 0, skipped: true };
  options.onEvent({ type: 'message', message: 'cleaning up what this run created' });
  try {
    const result = await cleanup(options.client, {
      runId: options.runId,
      finalizeNamespaces: options.finalizeNamespaces ?? options.local,
      coreApi,
      progress: (message) => options.onEvent({ type: 'message', message }),
      signal: options.cleanupSignal,
      // A persistent server keeps what deletions cost it: fewer at a time, and none while the machine is short of memory.
      concurrency: 4,
      ...(options.stop?.guard ? { beforeDelete: () => waitForMemory(options.stop!.machine, (m) => options.onEvent({ type: 'message', message: m })) } : {}),
    });
    return options.cleanupSignal?.aborted ? { ...result, skipped: true } : result;
  } catch (err) {
    // leftover -1: unknown; the CLI says how to remove what is left.
    options.onEvent({ type: 'message', message: `cleanup failed: ${(err as Error).message}` });
    return { crds: 0, namespaces: 0, leftover: -1 };
  }
}

/**
 * CRDs the server holds for the memory slope and the stop facts: every create
 * that was attempted, less those whose POST failed. A CRD whose Established
 * wait timed out exists all the same (and costs memory).
 */
function createdCrds(ctx: EngineContext): number {
  return ctx.state.installed - ctx.state.crdPostsFailed;
}

/**
 * Cleanup on a persistent local server, paced by the memory guard: while the
 * machine's available memory is below twice the guard's floor, deletions wait
 * (up to two minutes at a time) for the server to settle.
 */
async function waitForMemory(machine: StopOptions['machine'], say: (message: string) => void): Promise<void> {
  const floor = 2 * guardFloorBytes(machine.totalBytes);
  if (machine.availableBytes() >= floor) return;
  say(`cleanup: pausing deletions while the machine has ${(machine.availableBytes() / 2 ** 30).toFixed(1)} GiB available`);
  const deadline = performance.now() + 120_000;
  while (machine.availableBytes() < floor && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
}

/** What a phase needs of the run around it. */
interface PhaseEnv {
  ctx: EngineContext;
  plan: Plan;
  step: PlannedStep;
  /** The run's signal (Ctrl-C, onError abort-run) with the stop conditions' emergency brake. */
  runSignal: AbortSignal;
  /** onError: abort-run aborts it. */
  runAbort: AbortController;
  options: ExecuteOptions;
  server: ServerSampler | undefined;
}

async function runPhaseGroup(env: PhaseEnv, host: PlannedPhase): Promise<PhaseResult[]> {
  const hostDone = new AbortController();
  const companions = host.companions.map((c) => startPhase(env, c, hostDone.signal));
  // Let companions (watchers) open before the host's writes start, so that every write has
  // its watchers: 10,000 watches take seconds to establish, so the wait grows with their count.
  if (companions.length > 0) {
    const watchers = host.companions.reduce((n, c) => n + (c.doc.op === 'watch' ? c.doc.watchers : 0), 0);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(companions.map((c) => c.ready)), new Promise((r) => (timer = setTimeout(r, 5_000 + 5 * watchers)))]);
    clearTimeout(timer);
  }
  const hostRun = startPhase(env, host, undefined);
  let hostResult: PhaseResult;
  try {
    hostResult = await hostRun.done;
  } finally {
    hostDone.abort('host phase ended');
  }
  const companionResults = await Promise.all(companions.map((c) => c.done));
  return [hostResult, ...companionResults];
}

interface StartedPhase {
  ready: Promise<void>;
  done: Promise<PhaseResult>;
}

/** Starts a phase (a companion when `hostSignal` is given: it runs until its host ends); `ready` once its operation is in place. */
function startPhase(env: PhaseEnv, phase: PlannedPhase, hostSignal: AbortSignal | undefined): StartedPhase {
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  return { ready, done: runPhase(env, phase, hostSignal, markReady) };
}

/** The offered load as the phase-start event says it: `50/s`, `10→100/s`, `8 concurrent`. */
export function offeredLabel(offered: LoadModel): string {
  return offered.model === 'open' ? `${offered.ratePerSecond}${offered.rampToPerSecond !== undefined ? `→${offered.rampToPerSecond}` : ''}/s` : `${offered.concurrency} concurrent`;
}

async function runPhase(env: PhaseEnv, phase: PlannedPhase, hostSignal: AbortSignal | undefined, markReady: () => void): Promise<PhaseResult> {
  const { ctx, step, options, server } = env;
  const runStartedAt = options.startedAt ?? performance.now();
  const serverBefore = await server?.snapshot(2_000);
  const retriesBefore = ctx.client.retries;
  const recorder = new PhaseRecorder();
  const harness = new HarnessMonitor();
  const phaseAbort = new AbortController();
  const startedAt = new Date();
  const operation = await openOperation({ ...ctx, recorder }, phase, step, hostSignal, markReady);
  const { limits, durationTimer } = phaseLimits(env, phase, operation, hostSignal, phaseAbort);
  const load = loadAt(phase, step);
  options.onEvent({ type: 'phase-start', step, phase: phase.name, total: limits.total, load: offeredLabel(load) });
  const inFlight = new InFlight();
  const iteration: Iteration = (i, s) => {
    inFlight.begin(i);
    return operation.iteration(i, s);
  };
  const outcomes = outcomeSink(env, phase, operation, recorder, phaseAbort, inFlight);
  const stopReporting = reportWhileRunning(env, phase, operation, recorder, limits.total, outcomes.done, inFlight, runStartedAt);
  let driven: { iterations: number; schedule?: ScheduleStats };
  try {
    driven = await driveLoad(load, phase, limits, iteration, outcomes.sink);
  } finally {
    stopReporting();
    if (durationTimer) clearTimeout(durationTimer);
  }
  // Every index below `iterations` was attempted; failed ones were reported through `failed`.
  operation.after?.(driven.iterations);
  const retried = ctx.client.retries - retriesBefore;
  if (retried > 0) recorder.count('transport.retried-after-reset', retried);
  // --shard: a slice with 0 iterations (repeat share 0) still reports its primary op row (count 0).
  recorder.stats(operation.key);
  recorder.finish();
  const ops = recorder.summaries();
  const primaryP99 = ops.find((o) => o.op === (operation.primary ?? operation.key))?.latencyMs.p99 ?? 0;
  const { schedule } = driven;
  const lateBy = schedule && schedule.started > 0 ? judgeSchedule(schedule.lagMs.p99, primaryP99) : undefined;
  const harnessStats = withScheduleVerdict(harness.stop(), lateBy);
  const serverAfter = serverBefore ? await server?.snapshot() : undefined;
  return {
    step: step.index,
    level: step.level,
    crds: step.crds,
    load: load.model === 'open' ? { model: 'open', ratePerSecond: load.ratePerSecond, rampToPerSecond: load.rampToPerSecond } : { model: 'closed', concurrency: load.concurrency },
    phase: phase.name,
    kind: phase.doc.op,
    primary: operation.primary ?? operation.key,
    limit: limits.total !== undefined ? 'iterations' : 'duration',
    startedAt: startedAt.toISOString(),
    durationMs: Math.round((recorder.endedAt! - recorder.startedAt) * 10) / 10,
    ops,
    ...(outcomes.aborted() ? { aborted: outcomes.aborted() } : {}),
    harness: harnessStats,
    ...(schedule ? { schedule } : {}),
    ...(serverBefore && serverAfter ? { server: phaseStats(serverBefore, serverAfter) } : {}),
  };
}

/** The phase's operation, built and set up; `markReady` once it is in place (at once when it has nothing to wait for, or when it failed). */
async function openOperation(ctx: EngineContext & { recorder: PhaseRecorder }, phase: PlannedPhase, step: PlannedStep, hostSignal: AbortSignal | undefined, markReady: () => void): Promise<Operation> {
  let operation: Operation;
  try {
    operation = buildOperation(ctx, phase, step, hostSignal);
    await operation.before?.();
  } catch (err) {
    markReady();
    throw err;
  }
  if (operation.ready) void operation.ready.then(markReady);
  else markReady();
  return operation;
}

/** When the phase stops starting iterations: its count, its duration, the run's end, its host's end, an onError abort. */
function phaseLimits(env: PhaseEnv, phase: PlannedPhase, operation: Operation, hostSignal: AbortSignal | undefined, phaseAbort: AbortController): { limits: Limits; durationTimer?: NodeJS.Timeout } {
  const signals = [env.runSignal, phaseAbort.signal];
  // Watches end on their own after the host ends (they drain the last events first).
  if (hostSignal && phase.doc.op !== 'watch') signals.push(hostSignal);
  let durationTimer: NodeJS.Timeout | undefined;
  if (phase.doc.op === 'watch' && phase.durationMs !== undefined) {
    // Watches end when their time is up, not only when they stop starting.
    durationTimer = setTimeout(() => phaseAbort.abort('duration elapsed'), phase.durationMs);
  }
  const total = operation.total ?? phase.repeat ?? (phase.durationMs === undefined && hostSignal === undefined ? 1 : undefined);
  const limits: Limits = { total, durationMs: phase.doc.op === 'watch' ? undefined : phase.durationMs, signal: AbortSignal.any(signals) };
  return { limits, ...(durationTimer ? { durationTimer } : {}) };
}

/** Records every iteration's outcome and applies the scenario's onError policy; counts what finished. */
function outcomeSink(env: PhaseEnv, phase: PlannedPhase, operation: Operation, recorder: PhaseRecorder, phaseAbort: AbortController, inFlight: InFlight): { sink: Sink; done: () => number; aborted: () => string | undefined } {
  const policy = env.plan.scenario.onError;
  let done = 0;
  let aborted: string | undefined;
  const sink: Sink = (latencyUs, outcome, index) => {
    done++;
    inFlight.end(index);
    if (outcome.error) operation.failed?.(index);
    if (outcome.error === 'cancelled') {
      // Aborted by us (phase end, Ctrl-C): neither a latency nor a server failure.
      recorder.count('cancelled');
      return;
    }
    recorder.record(operation.key, latencyUs, outcome.error as never, outcome.bytes, outcome.message);
    if (outcome.error && outcome.error !== 'http-429' && outcome.error !== 'dropped') {
      if (policy === 'abort-phase' && !phaseAbort.signal.aborted) {
        aborted = `onError abort-phase: ${outcome.error}`;
        phaseAbort.abort(aborted);
      } else if (policy === 'abort-run' && !env.runAbort.signal.aborted) {
        aborted = `onError abort-run: ${outcome.error}`;
        env.runAbort.abort(`phase ${phase.name} step ${env.step.index}: ${outcome.error}`);
      }
    }
  };
  return { sink, done: () => done, aborted: () => aborted };
}

/** Progress (with what the phase waits for) every progressIntervalMs and interval rows every second while the phase runs; the returned stop emits the last rows. */
function reportWhileRunning(
  env: PhaseEnv,
  phase: PlannedPhase,
  operation: Operation,
  recorder: PhaseRecorder,
  total: number | undefined,
  done: () => number,
  inFlight: InFlight,
  runStartedAt: number,
): () => void {
  const { options, step, ctx } = env;
  const ticker = setInterval(() => {
    const oldest = inFlight.oldestMs();
    const waiting = operation.waiting?.();
    options.onEvent({ type: 'phase-progress', step, phase: phase.name, done: done(), total, errors: recorder.errorCount(), inFlight: inFlight.count, ...(oldest !== undefined ? { oldestPendingMs: oldest } : {}), ...(waiting ? { waiting } : {}) });
  }, options.progressIntervalMs ?? 2000);
  const emitInterval = () => {
    const rows = recorder.takeInterval();
    if (rows.length > 0) options.onEvent({ type: 'interval', t: Math.round((performance.now() - runStartedAt) / 100) / 10, step, phase: phase.name, rows, crds: liveCrdCount(ctx) });
  };
  const intervals = setInterval(emitInterval, 1000);
  return () => {
    clearInterval(ticker);
    clearInterval(intervals);
    emitInterval();
  };
}

/** The phase's load model driving its operation: how many iterations it started, and for the open model how late they started. */
async function driveLoad(load: LoadModel, phase: PlannedPhase, limits: Limits, iteration: Iteration, sink: Sink): Promise<{ iterations: number; schedule?: ScheduleStats }> {
  if (load.model === 'open') {
    const stats = await runOpen({ ...load, durationMs: phase.durationMs }, limits, iteration, sink);
    return { iterations: stats.scheduled, schedule: { started: stats.started, lagMs: latencySummaryMs(stats.lag), histogram: encodeHistogram(stats.lag) } };
  }
  return { iterations: await runClosed(load.concurrency, limits, iteration, sink) };
}
