/**
 * `asa-bench distribute <scenario> --workers N --image IMG`: runs the N shards
 * of a scenario as the pods of an Indexed Job in the target cluster, reads
 * each shard's result from its pod's log, merges them (as `asa-bench merge`)
 * into one results directory, and deletes what it created (unless --keep).
 *
 * `asa-bench distribute-worker` (hidden) is what each pod runs: shard
 * JOB_COMPLETION_INDEX+1 of N via `run --shard`, against the in-cluster API
 * server as the pod's service account, then the encoded result on stdout.
 *
 * The cluster steps are in src/distribute/; this file prints, handles
 * Ctrl-C and decides exit codes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { evaluateSlos } from '../compare/slo.js';
import { ClusterApi } from '../distribute/cluster.js';
import { encodeShardResult } from '../distribute/encode.js';
import { buildManifests, defaultNamespace, manifestsYaml, type DistributeManifests } from '../distribute/manifests.js';
import { collectShardResults, createResources, CreatedResources, manualCleanupCommands, teardown, waitForJob, type CollectedShard } from '../distribute/orchestrate.js';
import { readShardResult, shardOfCompletionIndex, writeInClusterKubeconfig, writeShardResult } from '../distribute/worker.js';
import { newRunId } from '../generators/run-id.js';
import { defaultRunDir, readRunDir, RUN_FILE } from '../results/store.js';
import { loadScenarioFile } from '../scenarios/parse.js';
import { sloFacts } from '../scenarios/plan.js';
import { ExitCode, RunFailedError, UsageError } from '../types/errors.js';
import type { SloFact } from '../types/results.js';
import { mergeRuns } from './merge.js';
import { Output } from './output.js';
import { Interrupts } from './interrupts.js';
import { runScenario } from './run.js';
import { sliceAs } from './slicing.js';
import { defaultKubeconfigs, resolveTarget, TARGET_OPTIONS, type TargetArgs } from './target.js';
import { durationOption } from './duration-option.js';
import { formatDurationMs } from '../types/duration.js';

export interface DistributeArgs extends TargetArgs {
  scenario: string;
  workers: number;
  image: string;
  namespace?: string;
  keep: boolean;
  /** Milliseconds (the option takes a duration). */
  timeout: number;
  out?: string;
  'dry-run': boolean;
  'allow-huge': boolean;
  json: boolean;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** The flags of a target that distribute takes (the rest of TARGET_OPTIONS is about the local control plane). */
const CLUSTER_OPTIONS = {
  kubeconfig: { ...TARGET_OPTIONS.kubeconfig, describe: 'kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)' },
  context: TARGET_OPTIONS.context,
  yes: { ...TARGET_OPTIONS.yes, describe: 'allow creating the Job and the load on a non-local cluster (also: ASA_BENCH_ALLOW_CONTEXTS=ctx1,ctx2)' },
  connections: { ...TARGET_OPTIONS.connections, describe: 'HTTP connections of each worker to the API server' },
  'request-timeout': TARGET_OPTIONS['request-timeout'],
  http2: TARGET_OPTIONS.http2,
} as const;

export function distributeCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'distribute <scenario>',
    describe: 'Run the shards of a scenario as an Indexed Job in the cluster, collect and merge their results',
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario file (YAML); shipped to the pods in a ConfigMap' })
        .option('workers', { type: 'number', demandOption: true, describe: 'number of shards, one pod each (Job completions = parallelism)' })
        .option('image', { type: 'string', demandOption: true, describe: 'asa-bench container image the pods run (built from the Dockerfile)' })
        .option('namespace', { type: 'string', describe: 'namespace to use (created if missing); default: a new asa-bench-<id> namespace' })
        .option('keep', { type: 'boolean', default: false, describe: 'keep the Job, its pods, ConfigMap, ServiceAccount and RBAC afterwards' })
        .option('timeout', durationOption('timeout', { default: '1h', bareUnit: 's', min: 1000, describe: 'how long to wait for the Job (also its activeDeadlineSeconds)' }))
        .option('out', { type: 'string', describe: 'results directory: the merged run, and shard-<i>/ per shard (default: results/<timestamp>-<scenario>-distributed)' })
        .option('dry-run', { type: 'boolean', default: false, alias: 'print', describe: 'print the manifests as YAML and touch nothing' })
        .option('allow-huge', { type: 'boolean', default: false, describe: 'lift the safety ceilings on counts and rates' })
        .option('json', { type: 'boolean', default: false, describe: 'print the merged summary as JSON on stdout instead of a table' })
        .options(CLUSTER_OPTIONS)
        .example('$0 distribute scenarios/crds-5000.yaml --workers 4 --image ghcr.io/me/asa-bench:0.1.0 --context prod-like --yes', 'four pods, one shard each')
        .example('$0 distribute scenarios/smoke.yaml --workers 3 --image asa-bench:dev --dry-run', 'print the manifests'),
    handler: async (argv) => {
      setExit(await distribute(argv as unknown as DistributeArgs, out));
    },
  };
}

function checkArgs(args: DistributeArgs): void {
  if (!Number.isInteger(args.workers) || args.workers < 1) throw new UsageError(`--workers ${args.workers}: expected a whole number of at least 1`);
  if (typeof args.image !== 'string' || args.image.trim() === '' || /\s/.test(args.image)) throw new UsageError(`--image "${args.image}": expected an image reference such as registry.example.com/asa-bench:0.1.0`);
  if (args.namespace !== undefined && !DNS_LABEL.test(args.namespace)) throw new UsageError(`--namespace ${args.namespace}: expected a DNS label (lowercase letters, digits and -, at most 63)`);
}

export async function distribute(args: DistributeArgs, out: Output): Promise<number> {
  checkArgs(args);
  const loaded = await loadScenarioFile(args.scenario, { allowHuge: args['allow-huge'] });
  const id = newRunId();
  const timeoutSeconds = Math.ceil(args.timeout / 1000);
  const workerFlags = workerFlagsOf(args);
  const spec = (createNamespace: boolean) =>
    sliceAs(`--workers ${args.workers}`, 'shards', () =>
      buildManifests({ id, scenarioText: loaded.text, doc: loaded.doc, workers: args.workers, image: args.image, namespace: args.namespace ?? defaultNamespace(id), createNamespace, timeoutSeconds, workerFlags }),
    );

  if (args['dry-run']) return printManifests(spec(args.namespace === undefined), args, out);
  spec(true); // the same check before anything touches the cluster

  const dir = path.resolve(args.out ?? defaultRunDir(path.resolve('results'), `${loaded.doc.name}-distributed`, new Date()));
  if (existsSync(path.join(dir, RUN_FILE)) || existsSync(path.join(dir, 'shard-1'))) {
    throw new UsageError(`--out ${dir} already holds results`, 'choose a new folder');
  }

  // Unlike `run`, no kubeconfig does not mean the local control plane: it has no nodes to run pods.
  const kubeconfig = args.kubeconfig ?? (args.context === undefined ? defaultKubeconfigs() : undefined);
  const target = await resolveTarget({ ...args, ...(kubeconfig !== undefined ? { kubeconfig } : {}) }, out, { writes: true });

  let created: CreatedResources | undefined;
  const interrupts = new Interrupts(out, {
    stopping: 'stopping; the Job and what distribute created will be deleted (press Ctrl-C again to skip that)',
    skipping: () => ['skipping cleanup; remove the leftovers later with:', ...(created ? manualCleanupCommands(created) : []).map((c) => `  ${c}`)],
  }).install();
  try {
    if (target.info.local) {
      throw new UsageError(`${target.info.server} is the embedded local control plane: it has no nodes, so the Job's pods would never run`, 'point --kubeconfig/--context at a cluster with nodes');
    }
    out.progress(`target ${target.info.server} (context ${target.info.context}), kube-apiserver ${target.info.version.gitVersion}`);
    const api = new ClusterApi(target.client);
    const namespace = args.namespace ?? defaultNamespace(id);
    const existing = args.namespace !== undefined ? await api.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace }) : undefined;
    const manifests = spec(existing === undefined);
    for (const w of manifests.warnings) out.error(`warning: ${w}`);
    created = new CreatedResources(manifests);
    out.progress(`distribute ${id}: ${args.workers} workers of ${loaded.doc.name} as Job ${namespace}/${manifests.names.job} (image ${args.image})`);

    const collected = await runJob(api, created, { args, timeoutMs: timeoutSeconds * 1000, dir, selector: manifests.selector }, interrupts, out);
    return await finishDistributed(collected, dir, sloFacts(loaded.doc.slo ?? {}), out, args.json);
  } finally {
    await target.release();
    interrupts.dispose();
  }
}

/** The flags every worker passes on to its `run --shard`. */
function workerFlagsOf(args: DistributeArgs): string[] {
  return [
    '--connections',
    String(args.connections ?? TARGET_OPTIONS.connections.default),
    '--request-timeout',
    args['request-timeout'] !== undefined ? formatDurationMs(args['request-timeout']) : TARGET_OPTIONS['request-timeout'].default,
    ...(args.http2 ? ['--http2'] : []),
    ...(args['allow-huge'] ? ['--allow-huge'] : []),
  ];
}

/** `--dry-run`: the manifests on stdout (building them also slices the scenario for every shard: a bad split is a usage error here). */
function printManifests(manifests: DistributeManifests, args: DistributeArgs, out: Output): number {
  out.data(manifestsYaml(manifests.all));
  if (args.namespace !== undefined) out.error(`note: namespace ${args.namespace} is used as it is, and created (and deleted afterwards) only if it does not exist`);
  for (const w of manifests.warnings) out.error(`warning: ${w}`);
  return ExitCode.ok;
}

interface JobRun {
  args: DistributeArgs;
  timeoutMs: number;
  /** The run folder (shards that finished before a timeout or Ctrl-C are kept there). */
  dir: string;
  /** The label selector of what was created (for --keep). */
  selector: string;
}

/** Creates the objects, waits for the Job and reads the shards' results; then removes what was created (with --keep, says how to). */
async function runJob(api: ClusterApi, created: CreatedResources, job: JobRun, interrupts: Interrupts, out: Output): Promise<CollectedShard[]> {
  const { args } = job;
  const progress = (m: string) => out.progress(m);
  try {
    await createResources(api, created, { progress, signal: interrupts.stop.signal });
    let outcome: Awaited<ReturnType<typeof waitForJob>>;
    try {
      outcome = await waitForJob(api, created, { workers: args.workers, timeoutMs: job.timeoutMs, signal: interrupts.stop.signal, progress });
    } catch (err) {
      // Timed out or interrupted: the shards that did finish printed their results; read them
      // before teardown deletes their pods (unless a second Ctrl-C asked to hurry).
      if (!interrupts.skipCleanup.signal.aborted && !args.keep) {
        const finished = await collectShardResults(api, created, args.workers, { progress, signal: AbortSignal.timeout(SALVAGE_TIMEOUT_MS) }).catch(() => []);
        await keepFinishedShards(finished, job.dir, out);
      }
      throw err;
    }
    if (outcome.state === 'failed') out.progress(`the Job failed (${outcome.reason}); reading what the shards left in their logs`);
    return await collectShardResults(api, created, args.workers, { progress, signal: interrupts.stop.signal });
  } finally {
    await removeCreated(api, created, job, interrupts, out);
  }
}

/** Deletes what distribute created, unless --keep (then: how to) or a second Ctrl-C (the interrupt handler says how). */
async function removeCreated(api: ClusterApi, created: CreatedResources, job: JobRun, interrupts: Interrupts, out: Output): Promise<void> {
  if (job.args.keep) {
    out.progress(`--keep: kept ${created.objects.length} objects (labelled ${job.selector}); remove them with:`);
    for (const c of manualCleanupCommands(created)) out.progress(`  ${c}`);
  } else if (!interrupts.skipCleanup.signal.aborted && created.objects.length > 0) {
    const removed = await teardown(api, created, { progress: (m: string) => out.progress(m), signal: interrupts.skipCleanup.signal });
    if (removed.leftover.length > 0) {
      out.error(`cleanup left: ${removed.leftover.join(', ')}; remove them with:`);
      for (const c of manualCleanupCommands(created)) out.error(`  ${c}`);
    }
  }
}

/** How long reading the finished shards' logs may take after a timeout or Ctrl-C. */
const SALVAGE_TIMEOUT_MS = 30_000;

/**
 * After a timeout or an interrupt: writes the results of the shards that had
 * finished to <dir>/shard-<i> and says how to combine them. Returns how many.
 */
export async function keepFinishedShards(collected: readonly CollectedShard[], dir: string, out: Output): Promise<number> {
  const finished = collected.filter((c) => c.result);
  for (const c of finished) await writeShardResult(path.join(dir, `shard-${c.shard.index}`), c.result!);
  if (finished.length > 0) {
    out.error(
      `kept the results of ${finished.length} of ${collected.length} shards that finished (${finished.map((c) => `${c.shard.index}/${c.shard.count}`).join(', ')}) in ${dir}/shard-*; ` +
        `\`asa-bench merge --force ${dir}/shard-* --out DIR\` combines them (a partial load)`,
    );
  }
  return finished.length;
}

/**
 * Writes each shard's result to <dir>/shard-<i>, merges them into <dir> (as
 * `asa-bench merge`) and checks the scenario's SLOs on the merged result.
 * Returns the exit code; throws RunFailedError when a shard has no result.
 */
export async function finishDistributed(collected: readonly CollectedShard[], dir: string, slos: readonly SloFact[], out: Output, json = false): Promise<number> {
  const shardDirs: string[] = [];
  for (const c of collected) {
    if (!c.result) continue;
    const shardDir = path.join(dir, `shard-${c.shard.index}`);
    await writeShardResult(shardDir, c.result);
    shardDirs.push(shardDir);
  }
  const missing = collected.filter((c) => !c.result);
  if (missing.length > 0) {
    for (const c of missing) {
      out.error(`shard ${c.shard.index}/${c.shard.count}: ${c.problem ?? 'no result'}`);
      if (c.runId) out.error(`  if it did not clean up: asa-bench cleanup --run ${c.runId} (with the same --kubeconfig/--context)`);
    }
    throw new RunFailedError(
      `${missing.length} of ${collected.length} shards have no result`,
      shardDirs.length > 0 ? `the shards that finished are in ${dir}/shard-*; \`asa-bench merge --force\` combines them (a partial load)` : undefined,
    );
  }
  await mergeRuns({ 'run-dirs': shardDirs, out: dir, force: false, json }, out);
  const merged = await readRunDir(dir);
  const verdict = evaluateSlos(slos, merged.summary.phases);
  for (const line of verdict.lines) out.progress(line);
  if (merged.run.status !== 'complete') {
    out.error(`asa-bench: distributed run ${merged.run.status}: ${merged.run.reason ?? ''}`);
    return ExitCode.runFailed;
  }
  return verdict.passed ? ExitCode.ok : ExitCode.regression;
}

export interface WorkerArgs {
  scenario: string;
  count: number;
  index?: number;
  out?: string;
  kubeconfig?: string;
  context?: string;
  connections: number;
  http2: boolean;
  'request-timeout': number;
  'allow-huge': boolean;
  'server-version'?: string;
}

export function distributeWorkerCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'distribute-worker <scenario>',
    // Hidden: it is what the pods of `distribute` run, not a command for people.
    describe: false,
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', demandOption: true })
        .option('count', { type: 'number', demandOption: true, describe: 'number of shards (the Job\'s completions)' })
        .option('index', { type: 'number', describe: '0-based shard index (default: $JOB_COMPLETION_INDEX)' })
        .option('out', { type: 'string', describe: 'results directory of the shard (default: a temporary folder)' })
        .option('kubeconfig', { type: 'string', describe: 'kubeconfig of the target (default: the in-cluster service account)' })
        .option('context', { type: 'string' })
        .option('connections', TARGET_OPTIONS.connections)
        .option('request-timeout', TARGET_OPTIONS['request-timeout'])
        .option('http2', TARGET_OPTIONS.http2)
        .option('allow-huge', { type: 'boolean', default: false }),
    handler: async (argv) => {
      setExit(await runWorker(argv as unknown as WorkerArgs, out));
    },
  };
}

/** Everything on stderr: a worker's stdout carries its encoded result and nothing else. */
class ProgressOnlyOutput extends Output {
  constructor(private readonly base: Output) {
    super(process.stderr, process.stderr, base.quiet);
  }

  override data(text: string): void {
    this.base.error(text.replace(/\n$/, ''));
  }

  override progress(message: string): void {
    this.base.progress(message);
  }

  override error(message: string): void {
    this.base.error(message);
  }
}

/**
 * One shard, as a pod of the Job runs it: `run --shard i/N` into a results
 * folder, then the encoded result on stdout. Exits 0 whenever a result was
 * printed for a finished run (also when an SLO was missed: SLOs are checked on
 * the merged result), so the Job reports the pod as succeeded; a partial or
 * failed run keeps its exit code (its result is printed all the same).
 */
export async function runWorker(args: WorkerArgs, out: Output): Promise<number> {
  if (!Number.isInteger(args.count) || args.count < 1) throw new UsageError(`--count ${args.count}: expected a whole number of at least 1`);
  const shard = shardOfCompletionIndex(args.count, args.index);
  const progress = new ProgressOnlyOutput(out);
  const dir = args.out ?? (await mkdtemp(path.join(os.tmpdir(), 'asa-bench-shard-')));
  const kubeconfig = args.kubeconfig ?? (args.context === undefined ? await writeInClusterKubeconfig(path.join(os.tmpdir(), 'asa-bench')) : undefined);
  progress.progress(`distribute-worker: shard ${shard.index}/${shard.count} of ${args.scenario}`);
  const code = await runScenario(
    {
      scenario: args.scenario,
      out: dir,
      keep: false,
      'allow-huge': args['allow-huge'],
      'dry-run': false,
      json: false,
      quiet: true,
      shard: `${shard.index}/${shard.count}`,
      kubeconfig,
      context: args.context,
      'server-version': args['server-version'],
      // `distribute` checked that load may go to this cluster before it created the Job.
      yes: true,
      connections: args.connections,
      http2: args.http2,
      'request-timeout': args['request-timeout'],
    },
    progress,
  );
  const result = await readShardResult(dir, shard, code);
  out.data(encodeShardResult(result));
  return code === ExitCode.regression ? ExitCode.ok : code;
}
