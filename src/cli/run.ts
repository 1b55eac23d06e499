import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { stopSentence } from '../analysis/analyze.js';
import { evaluateSlos } from '../compare/slo.js';
import { executePlan, type RunEvent } from '../engine/run.js';
import { HOST_MEMORY, type StopOptions } from '../engine/stop.js';
import { StorageWatch } from '../engine/storage-watch.js';
import { runTenants } from '../engine/tenants.js';
import { runThreads, threadSlices, type ThreadsEvent } from '../engine/threads.js';
import { newRunId } from '../generators/run-id.js';
import { renderRunJson } from '../reporters/json.js';
import { renderPhaseTable } from '../reporters/table.js';
import { memoryFigureOf, recordMemoryFigure } from '../results/memory-figures.js';
import { defaultRunDir } from '../results/store.js';
import { RunWriter, type EngineResult, type FinishedRun } from '../results/writer.js';
import { loadScenarioFile, type LoadedScenario } from '../scenarios/parse.js';
import { compilePlan, estimatePlan, planFacts, type Plan, type PlanEstimate } from '../scenarios/plan.js';
import type { ScenarioDoc } from '../scenarios/schema.js';
import { describeStopCondition, parseStopCondition, parseStopFlag, type StopCondition } from '../scenarios/stop.js';
import { sliceScenario } from '../shard/slice.js';
import { ExitCode, InterruptedError, UsageError } from '../types/errors.js';
import { RESULT_FORMAT_VERSION, type RunInfo, type StorageStats } from '../types/results.js';
import { chooseHeap, reexecWithHeap } from './heap.js';
import { InstallProgress, pendingNote, phaseLine } from './install-progress.js';
import { Interrupts } from './interrupts.js';
import type { Output } from './output.js';
import { createProfiler, profileConfig, type ProfileConfig, type RunProfiler } from './profile.js';
import { parseShard, sliceAs, type ShardSpec } from './slicing.js';
import { resolveTarget, TARGET_OPTIONS, type ResolvedTarget, type TargetArgs } from './target.js';
import { memoryFiguresFile } from './validate.js';
import { TOOL_VERSION } from './version.js';

export interface RunArgs extends TargetArgs {
  scenario: string;
  out?: string;
  keep: boolean;
  'allow-huge': boolean;
  'dry-run': boolean;
  json: boolean;
  /** Do not print the phase table (used by `ab`, which prints one comparison). */
  quiet?: boolean;
  /** --shard i/N: run the i-th of N slices of the scenario (src/shard/slice.ts). */
  shard?: string;
  /** --threads N: offer the load from N worker threads (src/engine/threads.ts); 1 = the main thread alone. */
  threads?: number;
  /** --stop-when KEY=VALUE (repeatable), over the scenario's stopWhen. */
  'stop-when'?: string[];
  /** false with --no-guard: no memory guard on the local control plane. */
  guard?: boolean;
  /** --profile: the servers' CPU and heap profiles, attributed to components (src/profiles/). */
  profile?: boolean;
  /** --heap auto|default: size V8's heap from the plan (src/cli/heap.ts) or leave Node's defaults. */
  heap?: 'auto' | 'default';
  /** Set by the `run` command only: this process may re-execute itself with heap flags. */
  mayReexec?: boolean;
}

export function runCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'run <scenario>',
    describe: 'Run a scenario against the embedded local control plane (default) or a kubeconfig target',
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario file (YAML), e.g. scenarios/smoke.yaml' })
        .options(TARGET_OPTIONS)
        .option('out', { type: 'string', describe: 'results directory (default: results/<timestamp>-<scenario>)' })
        .option('keep', { type: 'boolean', default: false, describe: 'keep what the run created (skip cleanup)' })
        .option('allow-huge', { type: 'boolean', default: false, describe: 'lift the safety ceilings on counts and rates' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'print the plan and touch nothing' })
        .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON on stdout instead of a table' })
        .option('shard', { type: 'string', describe: 'run the i-th of N slices of the scenario (i/N, e.g. 2/3); combine the shards with `asa-bench merge`' })
        .option('stop-when', {
          type: 'string',
          array: true,
          describe: 'stop after the step in which KEY=VALUE trips (repeatable): serverMemory=16GiB|85%, <phase>.p99=60s, errorRate=5%, elapsed=35m',
        })
        .option('guard', { type: 'boolean', default: true, describe: 'memory guard on the local control plane: stop before a step whose projected server memory the machine cannot hold (--no-guard: off)' })
        .option('threads', { type: 'number', default: 1, describe: 'offer the load from N worker threads (more than one core, for a remote target); results are merged into one run' })
        .option('profile', { type: 'boolean', default: false, describe: 'take kube-apiserver and etcd CPU profiles per phase and heap profiles per step (kept in profiles/), attributed to components in the report' })
        .option('heap', { choices: ['auto', 'default'] as const, default: 'auto' as const, describe: "auto: size V8's heap from the plan (the process re-executes itself with the flags); default: Node's own sizing" })
        .example('$0 run scenarios/smoke.yaml', 'smoke test on the embedded control plane')
        .example('$0 run scenarios/crds-500.yaml --server-version v1.36.3', 'same on another kube-apiserver build')
        .example('$0 run scenarios/smoke.yaml --server source=../kubernetes,arg=--watch-cache=false', 'on a (patched) source tree with an extra flag')
        .example('$0 run scenarios/smoke.yaml --server v1.37.2,controllers=none', 'the bare API server, no kube-controller-manager')
        .example('$0 run scenarios/smoke.yaml --context kind-kind --yes', 'against a kind cluster')
        .example('$0 run scenarios/crds-5000.yaml --stop-when serverMemory=12GiB --stop-when install.p99=60s', 'stop the sweep at the first step past either limit'),
    handler: async (argv) => {
      setExit(await runScenario({ ...(argv as unknown as RunArgs), mayReexec: true }, out));
    },
  };
}

export async function runScenario(args: RunArgs, out: Output): Promise<number> {
  const prepared = await prepareRun(args);
  if (args['dry-run']) {
    const { renderPlan } = await import('./validate.js');
    out.data(renderPlan(prepared.plan, prepared.estimate));
    return ExitCode.ok;
  }
  // Before anything starts: the flags apply at start-up, so the process re-executes itself (same pid).
  const heap = args.heap === 'default' ? 'default (--heap default)' : args.mayReexec ? reexecWithHeap(chooseHeap(prepared.plan)) : 'default (not the CLI)';
  // --threads: each thread has its own run id (names and labels), as shards do.
  let ids = threadRunIds(prepared.threads);
  const startedAt = new Date();
  let local = false;
  // Until the target is ready (a first build can take minutes) nothing is measured: Ctrl-C stops the build and writes nothing.
  let targetReady = false;
  const interrupts = new Interrupts(out, {
    stopping: () =>
      targetReady
        ? 'stopping; partial results will be written, then created objects cleaned up (press Ctrl-C again to skip cleanup)'
        : 'stopping before the run started: a server build under way is stopped, nothing is written',
    skipping: () => [
      local
        ? "skipping cleanup; the run's own control plane is stopped and its data deleted anyway"
        : `skipping cleanup; remove leftovers later with: ${ids.cleanupHint} (with the same --kubeconfig/--context)`,
    ],
    exiting: () => (local ? "; the run's own control plane is killed and its data deleted" : ''),
  }).install();
  try {
    const target = await resolveTarget(args, out, { writes: true, signal: interrupts.stop.signal });
    local = target.ephemeral;
    targetReady = true;
    try {
      // Ctrl-C while the control plane started (after any build): no run, no results.
      if (interrupts.interrupted) throw new InterruptedError('interrupted before the run started; nothing was written');
      if (target.tenants) ids = tenantRunIds(target.tenants, prepared);
      return await runOnTarget(args, out, { ...prepared, ...ids, startedAt, heap, target, interrupts });
    } finally {
      await target.release();
    }
  } finally {
    interrupts.dispose();
  }
}

interface PreparedRun {
  loaded: LoadedScenario;
  /** --shard i/N, when given. */
  shard: ShardSpec | undefined;
  plan: Plan;
  estimate: PlanEstimate;
  threads: number;
  stopConditions: StopCondition[];
  /** --profile (or the scenario's `profile:`), when on. */
  profiling: ProfileConfig | undefined;
}

/** The scenario read, sliced (--shard) and compiled; --threads, the stop conditions and profiling checked. Nothing touches a server. */
async function prepareRun(args: RunArgs): Promise<PreparedRun> {
  const loaded = await loadScenarioFile(args.scenario, { allowHuge: args['allow-huge'] });
  // --shard: slice the validated scenario before compiling it; the engine is unaware of shards.
  const shard = args.shard !== undefined ? parseShard(args.shard) : undefined;
  const plan = compilePlan(shard ? sliceAs(`--shard ${shard.index}/${shard.count}`, 'shards', () => sliceScenario(loaded.doc, shard.index, shard.count)) : loaded.doc);
  const threads = args.threads ?? 1;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new UsageError(`--threads: expected a whole number ≥ 1, got ${args.threads}`);
  // --threads: every thread must get a share of the CRDs; refused before any connection.
  if (threads > 1) sliceAs(`--threads ${threads}`, 'threads', () => threadSlices(plan.scenario, threads));
  const stopConditions = stopConditionsFor(loaded.doc, args['stop-when'] ?? []);
  if (threads > 1 && stopConditions.length > 0) throw new UsageError('stop conditions (stopWhen, --stop-when) need a single load thread; drop --threads or the conditions');
  const profiling = profileConfig(args.profile, plan.scenario.profile);
  if (profiling && threads > 1) throw new UsageError('--profile (or profile: in the scenario) works with one load thread only; drop --threads');
  return { loaded, shard, plan, estimate: estimatePlan(plan), threads, stopConditions, profiling };
}

/** The run's ids: one per load thread (or tenant), each with its own names and labels. */
interface RunIds {
  runIds: string[];
  /** What to run to remove what the run left (said on Ctrl-C Ctrl-C and after a cleanup that left objects). */
  cleanupHint: string;
}

function threadRunIds(threads: number): RunIds {
  const runIds = Array.from({ length: threads }, () => newRunId());
  return { runIds, cleanupHint: runIds.map((id) => `asa-bench cleanup --run ${id}`).join(' && ') };
}

/** tenants=N: each tenant's run has its own id too (its own CRD names and labels); refuses what tenants cannot combine with. */
function tenantRunIds(tenants: NonNullable<ResolvedTarget['tenants']>, prepared: PreparedRun): RunIds {
  if (prepared.threads > 1) throw new UsageError('--threads with tenants=N: give one of them', 'tenants=N already runs the scenario N times at once, one per API server');
  if (prepared.stopConditions.length > 0) throw new UsageError('stop conditions (stopWhen, --stop-when) with tenants=N: not supported yet; drop the conditions or the tenants');
  const runIds = tenants.map(() => newRunId());
  return { runIds, cleanupHint: `each tenant's own kubeconfig: ${runIds.map((id) => `asa-bench cleanup --run ${id}`).join(', ')}` };
}

interface RunOnTarget extends PreparedRun, RunIds {
  startedAt: Date;
  /** How V8's heap is sized (--heap), as said on stderr and in run.json. */
  heap: string;
  target: ResolvedTarget;
  interrupts: Interrupts;
}

/** Runs the plan on a resolved target, the results going to a RunWriter; prints the outcome and returns the exit code. */
async function runOnTarget(args: RunArgs, out: Output, run: RunOnTarget): Promise<number> {
  const { target } = run;
  // The memory guard projects one kube-apiserver; tenants run several (and threads split the load).
  const stop = stopOptionsFor(run.stopConditions, target.info.local, run.threads === 1 && !target.tenants && (args.guard ?? true));
  announceRun(out, run, stop);
  // --shard: concurrent shards started in the same second get distinct default folders.
  const name = run.shard ? `${run.loaded.doc.name}-shard${run.shard.index}of${run.shard.count}` : run.loaded.doc.name;
  const writer = await RunWriter.open(args.out ?? defaultRunDir(path.resolve('results'), name, run.startedAt), runInfo(args, run, stop), {
    column: run.threads > 1 ? 'thread' : target.tenants ? 'tenant' : undefined,
    onWriteError: (message) => out.error(message),
  });
  const profiler = run.profiling && createProfiler(run.profiling, run.plan, target, { http2: args.http2, store: writer.store, signal: run.interrupts.stop.signal, onMessage: (m) => out.progress(m) });
  const print = eventPrinter(out, run.plan);
  const onEvent = (event: RunEvent | ThreadsEvent) => {
    if (profiler) profiler.follow(event);
    writer.onEvent(event);
    print(event);
  };
  const { result, storage } = await runEngine(args, run, stop, onEvent, profiler);
  const finished = await writer.finish(result, { storage, ...(profiler ? { profiles: profiler.probe.result() } : {}) });
  // `plan` projects the next run's server memory from this figure.
  const figure = memoryFigureOf(finished.run, finished.summary);
  if (figure) await recordMemoryFigure(memoryFiguresFile(), figure).catch((err: Error) => out.progress(`note: cannot record the memory figure: ${err.message}`));
  const slo = evaluateSlos(finished.run.plan?.slos ?? [], result.phases);
  printOutcome(args, out, finished, slo.lines, writer.dir);
  if (result.cleanup?.skipped && target.ephemeral) out.progress("cleanup skipped: this run's own control plane is deleted with everything in it");
  else if (result.cleanup?.leftover && result.cleanup.leftover > 0) out.progress(`cleanup left ${result.cleanup.leftover} objects; run: ${run.cleanupHint}`);
  else if (result.cleanup && result.cleanup.leftover < 0) out.progress(`cleanup did not finish; remove what is left with: ${run.cleanupHint}`);
  if (target.localDir && (result.status !== 'complete' || result.phases.some((p) => p.ops.some((o) => Object.keys(o.errors).length > 0)))) {
    // Keep the server's side of the story next to the results before the temp folder goes.
    await writer.keepLogTails(target.localDir, controlPlaneLogs(target));
    out.progress(`errors occurred: control plane logs kept in ${writer.dir}/logs/`);
  }
  if (run.interrupts.interrupted) return ExitCode.interrupted;
  if (result.status !== 'complete') {
    out.error(`asa-bench: run ${result.status}: ${result.reason ?? ''}`);
    return ExitCode.runFailed;
  }
  return slo.passed ? ExitCode.ok : ExitCode.regression;
}

/** The engine on the target: the tenants', the threads' or one plan's runner, the storage process sampled meanwhile. */
async function runEngine(args: RunArgs, run: RunOnTarget, stop: StopOptions, onEvent: (event: RunEvent | ThreadsEvent) => void, profiler: RunProfiler | undefined): Promise<{ result: EngineResult; storage?: StorageStats }> {
  const { target, plan, runIds } = run;
  // Without kube-controller-manager nothing finalizes deleted namespaces; with it, they go the normal way.
  const finalizeNamespaces = target.info.local && target.server?.controllers !== 'kcm';
  const common = { local: target.info.local, finalizeNamespaces, ephemeral: target.ephemeral, signal: run.interrupts.stop.signal, cleanupSignal: run.interrupts.skipCleanup.signal, onEvent, keep: args.keep, startedAt: performance.now() };
  const storageWatch = target.storage ? new StorageWatch(target.storage.kind, target.storage.metricsUrl) : undefined;
  await storageWatch?.start();
  const result: EngineResult = target.tenants
    ? await runTenants(plan, { ...common, tenants: target.tenants.map((t, k) => ({ index: t.index, prefix: t.prefix, client: t.client, runId: runIds[k]! })) })
    : run.threads > 1
      ? await runThreads({ ...common, scenario: plan.scenario, runIds, connection: target.connection, client: target.client, clientOptions: threadClientOptions(args) })
      : await executePlan(plan, { ...common, client: target.client, runId: runIds.join('+'), stop, ...(profiler ? profiler.hooks : {}) }).finally(() => profiler && profiler.probe.close());
  const storage = await storageWatch?.stop();
  return { result, ...(storage ? { storage } : {}) };
}

/** The local control plane's log files worth keeping when a run had errors. */
function controlPlaneLogs(target: ResolvedTarget): string[] {
  const tenants = (target.tenants ?? []).flatMap((t) => [`tenant-${t.index}.log`, `tenant-${t.index}-kube-controller-manager.log`]);
  return ['kube-apiserver.log', 'apiextensions-apiserver.log', 'etcd.log', 'kine.log', ...tenants, ...(target.server?.controllers === 'kcm' ? ['kube-controller-manager.log'] : [])];
}

/** What is about to happen: the target, the guard and stop conditions, what the run will create. */
function announceRun(out: Output, run: RunOnTarget, stop: StopOptions): void {
  const { target, runIds, threads } = run;
  out.progress(`target ${target.info.server} (${target.info.local ? 'local control plane' : `context ${target.info.context}`}), kube-apiserver ${target.info.version.gitVersion}${target.server ? `; server ${target.server.label}${target.server.controllers === 'kcm' ? ' with kube-controller-manager' : ', no controllers'}` : ''}`);
  if (stop.guard) out.progress(`memory guard on: stops before a step whose projected kube-apiserver memory this machine (${formatGiB(stop.machine.totalBytes)}) cannot hold (--no-guard: off)`);
  if (stop.conditions.length > 0) out.progress(`stop when: ${stop.conditions.map(describeStopCondition).join(', ')}`);
  out.progress(`heap: ${run.heap}`);
  out.progress(`run ${runIds.join('+')}: will create ${run.estimate.crdsCreated} CRDs and ${run.estimate.objectsCreated} objects labelled asa-bench.io/run=${runIds.join(' or ')}`);
  if (threads > 1) {
    out.progress(`${threads} load threads, one run id each (${runIds.join(', ')})`);
    if (threads > os.availableParallelism()) out.progress(`note: ${threads} threads on ${os.availableParallelism()} cores: the threads compete for CPU`);
    if (target.info.local) out.progress("note: the local control plane shares this machine's cores with the load threads");
  }
}

/** run.json as the run starts: what runs, against what, with which flags (status `partial` until it ends). */
function runInfo(args: RunArgs, run: RunOnTarget, stop: StopOptions): RunInfo {
  const { loaded, target } = run;
  return {
    formatVersion: RESULT_FORMAT_VERSION,
    runId: run.runIds.join('+'),
    tool: { name: 'asa-bench', version: TOOL_VERSION, node: process.version },
    scenario: { name: loaded.doc.name, file: path.resolve(loaded.file), sha256: createHash('sha256').update(loaded.text).digest('hex'), text: loaded.text },
    plan: planFacts(run.plan),
    target: target.info,
    ...(target.server ? { server: target.server } : {}),
    machine: { cores: os.availableParallelism(), memoryBytes: os.totalmem(), platform: `${os.platform()}-${os.arch()}` },
    flags: {
      connections: args.connections,
      http2: args.http2,
      requestTimeoutMs: args['request-timeout'],
      keep: args.keep,
      stopWhen: stop.conditions.map(describeStopCondition),
      guard: stop.guard,
      server: target.server?.given,
      serverVersion: target.server ? args['server-version'] : undefined,
      apiserverArgs: args['apiserver-arg'],
      threads: run.threads,
      heap: run.heap,
      ...(run.profiling ? { profile: run.profiling } : {}),
    },
    startedAt: run.startedAt.toISOString(),
    status: 'partial',
    reason: 'running',
    ...(run.shard ? { shard: run.shard } : {}),
  };
}

/** Progress lines for the engine's events (the writer keeps the data): counts and what each phase waits for, installs with rate and ETA; in place on a terminal. */
function eventPrinter(out: Output, plan: Plan): (event: RunEvent | ThreadsEvent) => void {
  const install = new InstallProgress(plan);
  return (event) => {
    switch (event.type) {
      case 'phase-start':
        install.phaseStarted(event.step.index, event.phase, event.total);
        out.progress(`step ${event.step.index} (${event.step.level} CRDs) ▸ ${event.phase}${event.total !== undefined ? `: ${event.total} iterations` : ''}`);
        break;
      case 'phase-progress': {
        // In place on a terminal; in CI (no TTY) a line per tick, every 15 s for installs (a 30-minute log stays readable).
        const installs = install.installs(event.phase);
        const line = installs ? install.line(event.step.index, event.phase, event.done, event.total, event.errors) + pendingNote(event) : phaseLine(event);
        out.periodic(`${event.step.index}/${event.phase}`, line, installs ? 15_000 : 0);
        break;
      }
      case 'phase-end':
        install.phaseEnded(event.result.step, event.result.phase, event.result.durationMs);
        break;
      case 'stopping':
        out.progress(`stopping: ${stopSentence(event.stoppedAt, plan.steps[0]?.by === 'rate' ? `${event.stoppedAt.level} requests/s` : plan.steps[0]?.by === 'concurrency' ? `${event.stoppedAt.level} concurrent workers` : `${event.stoppedAt.level} CRDs`)}`);
        break;
      case 'message':
        out.progress(event.message);
    }
  };
}

/** The result on stdout (table or JSON), the headline and SLO lines on stderr. */
function printOutcome(args: RunArgs, out: Output, finished: FinishedRun, sloLines: readonly string[], dir: string): void {
  if (args.json) out.data(renderRunJson(finished.run, finished.summary.phases));
  else if (!args.quiet) out.data(renderPhaseTable(finished.summary.phases));
  out.progress(finished.report.analysis!.headline);
  for (const line of sloLines) out.progress(line);
  out.progress(`results: ${dir}`);
}

/** The scenario's stopWhen with the command line's --stop-when over it (same key: the flag wins). */
function stopConditionsFor(doc: ScenarioDoc, flags: readonly string[]): StopCondition[] {
  const byKey = new Map<string, StopCondition>();
  for (const [key, value] of Object.entries(doc.stopWhen ?? {})) byKey.set(key, parseStopCondition(key, value));
  const phases = new Set(doc.phases.map((p) => p.name));
  for (const flag of flags) {
    let c: StopCondition;
    try {
      c = parseStopFlag(flag);
    } catch (err) {
      throw new UsageError(`--stop-when: ${(err as Error).message}`);
    }
    if (c.kind === 'latency' && !phases.has(c.phase)) throw new UsageError(`--stop-when ${flag}: expected the name of a phase (${[...phases].join(', ')}) before .${c.percentile}, got "${c.phase}"`);
    byKey.set(c.key, c);
  }
  return [...byKey.values()];
}

function stopOptionsFor(conditions: StopCondition[], local: boolean, guard: boolean): StopOptions {
  const share = conditions.find((c) => c.kind === 'serverMemory' && c.share !== undefined);
  if (share && !local) {
    throw new UsageError(`stop condition ${describeStopCondition(share)}: a share of machine memory needs the local control plane`, 'give an absolute size instead, e.g. serverMemory=16GiB');
  }
  return { conditions, guard: guard && local, machine: HOST_MEMORY };
}

function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** The client options resolveTarget gives the main thread's client; `--connections` is the total the threads share. */
function threadClientOptions(args: RunArgs): { connections: number; http2: boolean; timeoutMs: number } {
  return { connections: args.connections ?? 32, http2: args.http2 ?? false, timeoutMs: args['request-timeout'] ?? 60_000 };
}
