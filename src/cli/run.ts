import { createHash } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { evaluateSlos } from '../compare/slo.js';
import { executePlan, type ExecuteResult, type RunEvent } from '../engine/run.js';
import { HOST_MEMORY, type StopOptions } from '../engine/stop.js';
import { stopSentence } from '../analysis/analyze.js';
import { describeStopCondition, parseStopCondition, parseStopFlag, type StopCondition } from '../scenarios/stop.js';
import type { ScenarioDoc } from '../scenarios/schema.js';
import { StorageWatch } from '../engine/storage-watch.js';
import { runTenants } from '../engine/tenants.js';
import { runThreads, threadSlices, type ThreadRun, type ThreadsEvent } from '../engine/threads.js';
import { newRunId } from '../generators/run-id.js';
import { renderHtml } from '../reporters/html.js';
import { renderMarkdown } from '../reporters/markdown.js';
import { renderPhaseTable } from '../reporters/table.js';
import { chooseHeap, reexecWithHeap } from './heap.js';
import { renderPhaseCsv, renderServerMetricsCsv, SERVER_METRICS_FILE, reportInput } from './report.js';
import { InstallProgress } from './install-progress.js';
import { memoryFigureOf, recordMemoryFigure } from '../results/memory-figures.js';
import { memoryFiguresFile } from './validate.js';
import { defaultRunDir, ResultStore } from '../results/store.js';
import { loadScenarioFile } from '../scenarios/parse.js';
import { compilePlan, estimatePlan, planFacts } from '../scenarios/plan.js';
import { sliceScenario } from '../shard/slice.js';
import { Interrupts } from './interrupts.js';
import { parseShard, sliceAs } from './slicing.js';
import { ExitCode, UsageError } from '../types/errors.js';
import { RESULT_FORMAT_VERSION, type PhaseResult, type RunInfo, type TenantResult } from '../types/results.js';
import type { Output } from './output.js';
import { createProfiler, profileConfig } from './profile.js';
import { resolveTarget, TARGET_OPTIONS, type TargetArgs } from './target.js';
import { TOOL_VERSION } from './version.js';

const INTERVALS_FILE = 'intervals.csv';

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
  const loaded = await loadScenarioFile(args.scenario, { allowHuge: args['allow-huge'] });
  // --shard: slice the validated scenario before compiling it; the engine is unaware of shards.
  const shard = args.shard !== undefined ? parseShard(args.shard) : undefined;
  const plan = compilePlan(shard ? sliceAs(`--shard ${shard.index}/${shard.count}`, 'shards', () => sliceScenario(loaded.doc, shard.index, shard.count)) : loaded.doc);
  const estimate = estimatePlan(plan);
  const threads = args.threads ?? 1;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new UsageError(`--threads: expected a whole number ≥ 1, got ${args.threads}`);
  // --threads: every thread must get a share of the CRDs; refused before any connection.
  if (threads > 1) sliceAs(`--threads ${threads}`, 'threads', () => threadSlices(plan.scenario, threads));
  const stopConditions = stopConditionsFor(loaded.doc, args['stop-when'] ?? []);
  if (threads > 1 && stopConditions.length > 0) throw new UsageError('stop conditions (stopWhen, --stop-when) need a single load thread; drop --threads or the conditions');
  const profiling = profileConfig(args.profile, plan.scenario.profile);
  if (profiling && threads > 1) throw new UsageError('--profile (or profile: in the scenario) works with one load thread only; drop --threads');
  if (args['dry-run']) {
    const { renderPlan } = await import('./validate.js');
    out.data(renderPlan(plan, estimate));
    return ExitCode.ok;
  }

  // Before anything starts: the flags apply at start-up, so the process re-executes itself (same pid).
  const heap = args.heap === 'default' ? 'default (--heap default)' : args.mayReexec ? reexecWithHeap(chooseHeap(plan)) : 'default (not the CLI)';

  // --threads: each thread has its own run id (names and labels), as shards do.
  const threadRunIds = Array.from({ length: threads }, () => newRunId());
  let runId = threadRunIds.join('+');
  let cleanupHint = threadRunIds.map((id) => `asa-bench cleanup --run ${id}`).join(' && ');
  const startedAt = new Date();
  let local = false;
  const interrupts = new Interrupts(out, {
    stopping: 'stopping; partial results will be written, then created objects cleaned up (press Ctrl-C again to skip cleanup)',
    skipping: () => [
      local
        ? "skipping cleanup; the run's own control plane is stopped and its data deleted anyway"
        : `skipping cleanup; remove leftovers later with: ${cleanupHint} (with the same --kubeconfig/--context)`,
    ],
    exiting: () => (local ? "; the run's own control plane is killed and its data deleted" : ''),
  }).install();

  const target = await resolveTarget(args, out, { writes: true }).catch((err) => {
    interrupts.dispose();
    throw err;
  });
  local = target.ephemeral;
  const tenants = target.tenants;
  try {
    if (tenants && threads > 1) throw new UsageError('--threads with tenants=N: give one of them', 'tenants=N already runs the scenario N times at once, one per API server');
    if (tenants && stopConditions.length > 0) throw new UsageError('stop conditions (stopWhen, --stop-when) with tenants=N: not supported yet; drop the conditions or the tenants');
    // The memory guard projects one kube-apiserver; tenants run several (and threads split the load).
    const stop = stopOptionsFor(stopConditions, target.info.local, threads === 1 && !tenants && (args.guard ?? true));
    // tenants=N: each tenant's run has its own id too (its own CRD names and labels).
    const tenantRunIds = tenants ? tenants.map(() => newRunId()) : undefined;
    if (tenantRunIds) {
      runId = tenantRunIds.join('+');
      cleanupHint = `each tenant's own kubeconfig: ${tenantRunIds.map((id) => `asa-bench cleanup --run ${id}`).join(', ')}`;
      threadRunIds.splice(0, threadRunIds.length, ...tenantRunIds);
    }
    out.progress(`target ${target.info.server} (${target.info.local ? 'local control plane' : `context ${target.info.context}`}), kube-apiserver ${target.info.version.gitVersion}${target.server ? `; server ${target.server.label}${target.server.controllers === 'kcm' ? ' with kube-controller-manager' : ', no controllers'}` : ''}`);
    if (stop.guard) out.progress(`memory guard on: stops before a step whose projected kube-apiserver memory this machine (${formatGiB(stop.machine.totalBytes)}) cannot hold (--no-guard: off)`);
    if (stop.conditions.length > 0) out.progress(`stop when: ${stop.conditions.map(describeStopCondition).join(', ')}`);
    out.progress(`heap: ${heap}`);
    out.progress(`run ${runId}: will create ${estimate.crdsCreated} CRDs and ${estimate.objectsCreated} objects labelled asa-bench.io/run=${threadRunIds.join(threads > 1 ? ' or ' : '')}`);
    if (threads > 1) {
      out.progress(`${threads} load threads, one run id each (${threadRunIds.join(', ')})`);
      if (threads > os.availableParallelism()) out.progress(`note: ${threads} threads on ${os.availableParallelism()} cores: the threads compete for CPU`);
      if (target.info.local) out.progress('note: the local control plane shares this machine\'s cores with the load threads');
    }

    // --shard: concurrent shards started in the same second get distinct default folders.
    const store = new ResultStore(args.out ?? defaultRunDir(path.resolve('results'), shard ? `${loaded.doc.name}-shard${shard.index}of${shard.count}` : loaded.doc.name, startedAt));
    await store.init();
    const facts = planFacts(plan);
    const info: RunInfo = {
      formatVersion: RESULT_FORMAT_VERSION,
      runId,
      tool: { name: 'asa-bench', version: TOOL_VERSION, node: process.version },
      scenario: { name: loaded.doc.name, file: path.resolve(loaded.file), sha256: createHash('sha256').update(loaded.text).digest('hex'), text: loaded.text },
      plan: facts,
      target: target.info,
      ...(target.server ? { server: target.server } : {}),
      machine: { cores: os.availableParallelism(), memoryBytes: os.totalmem(), platform: `${os.platform()}-${os.arch()}` },
      flags: { connections: args.connections, http2: args.http2, requestTimeoutMs: args['request-timeout'], keep: args.keep, stopWhen: stop.conditions.map(describeStopCondition), guard: stop.guard, server: target.server?.given, serverVersion: target.server ? args['server-version'] : undefined, apiserverArgs: args['apiserver-arg'], threads, heap, ...(profiling ? { profile: profiling } : {}) },
      startedAt: startedAt.toISOString(),
      status: 'partial',
      reason: 'running',
      ...(shard ? { shard } : {}),
    };
    await store.writeRun(info);
    // --threads: one row per thread and second (percentiles do not add up), with a `thread` column.
    // tenants=N: the same column holds the tenant's index.
    await store.writeText(INTERVALS_FILE, stringify([['t_s', 'step', 'level', 'phase', 'op', 'count', 'errors', 'throttled_429', 'p50_ms', 'p99_ms', 'max_ms', ...(threads > 1 ? ['thread'] : tenants ? ['tenant'] : [])]]));

    const phases: PhaseResult[] = [];
    const install = new InstallProgress(plan);
    let lastInstallLine = -Infinity;
    const profiler = profiling && createProfiler(profiling, plan, target, { http2: args.http2, store, signal: interrupts.stop.signal, onMessage: (m) => out.progress(m) });
    const onEvent = (event: RunEvent | ThreadsEvent) => {
      if (profiler) profiler.follow(event);
      switch (event.type) {
        case 'phase-start':
          install.phaseStarted(event.step.index, event.phase, event.total);
          out.progress(`step ${event.step.index} (${event.step.level} CRDs) ▸ ${event.phase}${event.total !== undefined ? `: ${event.total} iterations` : ''}`);
          break;
        case 'phase-progress':
          if (install.installs(event.phase)) {
            // In place on a terminal; in CI (no TTY) a line every 15 s keeps a 30-minute log readable.
            const line = install.line(event.step.index, event.phase, event.done, event.total, event.errors);
            if (out.live) out.status(line);
            else if (performance.now() - lastInstallLine >= 15_000) {
              lastInstallLine = performance.now();
              out.progress(line);
            }
          } else out.progress(`  ${event.phase}: ${event.done}${event.total !== undefined ? `/${event.total}` : ''} done, ${event.errors} errors`);
          break;
        case 'phase-end':
          install.phaseEnded(event.result.step, event.result.phase, event.result.durationMs);
          phases.push(event.result);
          // Summaries are rewritten after every phase, so an interrupted run keeps what it measured.
          store.writeSummary({ formatVersion: RESULT_FORMAT_VERSION, runId, phases }).catch((err: Error) => out.error(`cannot write summary: ${err.message}`));
          break;
        case 'interval':
          store
            .append(
              INTERVALS_FILE,
              stringify(event.rows.map((r) => [event.t, event.step.index, event.step.level, event.phase, r.op, r.count, r.errors, r.throttled, r.p50Ms, r.p99Ms, r.maxMs, ...('thread' in event ? [event.thread] : [])])),
            )
            .catch((err: Error) => out.error(`cannot append ${INTERVALS_FILE}: ${err.message}`));
          break;
        case 'stopping':
          out.progress(`stopping: ${stopSentence(event.stoppedAt, plan.steps[0]?.by === 'rate' ? `${event.stoppedAt.level} requests/s` : plan.steps[0]?.by === 'concurrency' ? `${event.stoppedAt.level} concurrent workers` : `${event.stoppedAt.level} CRDs`)}`);
          break;
        case 'message':
          out.progress(event.message);
      }
    };
    // Without kube-controller-manager nothing finalizes deleted namespaces; with it, they go the normal way.
    const finalizeNamespaces = target.info.local && target.server?.controllers !== 'kcm';
    const common = { local: target.info.local, finalizeNamespaces, ephemeral: target.ephemeral, signal: interrupts.stop.signal, cleanupSignal: interrupts.skipCleanup.signal, onEvent, keep: args.keep, startedAt: performance.now() };
    const storageWatch = target.storage ? new StorageWatch(target.storage.kind, target.storage.metricsUrl) : undefined;
    await storageWatch?.start();
    const result: ExecuteResult & { threads?: ThreadRun[]; tenants?: TenantResult[] } = tenants
      ? await runTenants(plan, { ...common, tenants: tenants.map((t, k) => ({ index: t.index, prefix: t.prefix, client: t.client, runId: threadRunIds[k]! })) })
      : threads > 1
        ? await runThreads({ ...common, scenario: plan.scenario, runIds: threadRunIds, connection: target.connection, client: target.client, clientOptions: threadClientOptions(args) })
        : await executePlan(plan, { ...common, client: target.client, runId, stop, ...(profiler ? profiler.hooks : {}) }).finally(() => profiler && profiler.probe.close());
    const storage = await storageWatch?.stop();
    const cleanupInfo = (c: ExecuteResult['cleanup']) => c && { deleted: c.crds + c.namespaces, leftover: c.leftover, skipped: c.skipped };
    const finished: RunInfo = {
      ...info,
      endedAt: new Date().toISOString(),
      status: result.status,
      reason: result.reason,
      ...(result.stoppedAt ? { stoppedAt: result.stoppedAt } : {}),
      cleanup: cleanupInfo(result.cleanup),
      ...(result.skipped ? { skipped: result.skipped } : {}),
      ...(storage ? { storage } : {}),
      ...(result.threads ? { threads: result.threads.map((t) => ({ ...t, cleanup: cleanupInfo(t.cleanup) })) } : {}),
    };
    const slo = evaluateSlos(facts.slos, result.phases);
    const summary = { formatVersion: RESULT_FORMAT_VERSION, runId, phases: result.phases, serverSeries: result.serverSeries, ...(result.tenants ? { tenants: result.tenants } : {}), ...(profiler ? { profiles: profiler.probe.result() } : {}) };
    await store.writeSummary(summary);
    await store.writeRun(finished);
    const report = reportInput(finished, summary);
    await store.writeText('report.md', renderMarkdown(report));
    await store.writeText('report.html', renderHtml(report));
    await store.writeText('summary.csv', renderPhaseCsv(summary));
    await store.writeText(SERVER_METRICS_FILE, renderServerMetricsCsv(summary));
    // `plan` projects the next run's server memory from this figure.
    const figure = memoryFigureOf(finished, summary);
    if (figure) await recordMemoryFigure(memoryFiguresFile(), figure).catch((err: Error) => out.progress(`note: cannot record the memory figure: ${err.message}`));

    if (args.json) out.data(JSON.stringify({ run: { ...finished, scenario: { ...finished.scenario, text: undefined } }, phases: result.phases.map((p) => ({ ...p, ops: p.ops.map(({ histogram: _h, ...rest }) => rest) })) }, null, 2));
    else if (!args.quiet) out.data(renderPhaseTable(result.phases));
    out.progress(report.analysis!.headline);
    for (const line of slo.lines) out.progress(line);
    out.progress(`results: ${store.dir}`);
    if (result.cleanup?.skipped && target.ephemeral) out.progress('cleanup skipped: this run\'s own control plane is deleted with everything in it');
    else if (result.cleanup?.leftover && result.cleanup.leftover > 0) out.progress(`cleanup left ${result.cleanup.leftover} objects; run: ${cleanupHint}`);

    if (target.localDir && (result.status !== 'complete' || result.phases.some((p) => p.ops.some((o) => Object.keys(o.errors).length > 0)))) {
      // Keep the server's side of the story next to the results before the temp folder goes.
      await store.copyLogTails(target.localDir, ['kube-apiserver.log', 'apiextensions-apiserver.log', 'etcd.log', 'kine.log', ...(tenants ?? []).flatMap((t) => [`tenant-${t.index}.log`, `tenant-${t.index}-kube-controller-manager.log`]), ...(target.server?.controllers === 'kcm' ? ['kube-controller-manager.log'] : [])]);
      out.progress(`errors occurred: control plane logs kept in ${store.dir}/logs/`);
    }
    if (interrupts.interrupted) return ExitCode.interrupted;
    if (result.status !== 'complete') {
      out.error(`asa-bench: run ${result.status}: ${result.reason ?? ''}`);
      return ExitCode.runFailed;
    }
    return slo.passed ? ExitCode.ok : ExitCode.regression;
  } finally {
    await target.release();
    interrupts.dispose();
  }
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
