/**
 * The cluster side of `asa-bench distribute`, step by step: create the
 * objects, wait for the Indexed Job, read every shard's result from its pod's
 * log, and delete what was created. Progress goes through a callback and
 * failures are typed errors; the CLI prints and picks exit codes.
 *
 * Teardown order matters: the Job goes first and its pods are given their
 * grace period to stop, because a worker that receives SIGTERM deletes what
 * its shard created, and needs its RBAC for that. Only then go the ConfigMap,
 * the binding, the role, the ServiceAccount and the Namespace.
 */
import { RequestError } from '../kube/client.js';
import { InterruptedError, RunFailedError, TargetError } from '../types/errors.js';
import { ClusterApi, describeRef, refOf, type ObjectRef } from './cluster.js';
import { decodeShardResult, type ShardResult } from './encode.js';
import { ownedByNamespace, TERMINATION_GRACE_SECONDS, WORKER_CONTAINER, type DistributeManifests, type KubeObject } from './manifests.js';
import { completionIndexOf, describeProgress, jobOutcome, podState, stuckPod, type JobObject, type PodObject } from './status.js';

export interface Hooks {
  progress(message: string): void;
  signal?: AbortSignal;
}

/** What has been created so far, in order; filled while creating so a failure part-way can be undone. */
export class CreatedResources {
  readonly objects: ObjectRef[] = [];
  namespaceCreated = false;
  constructor(readonly manifests: DistributeManifests) {}

  get job(): ObjectRef | undefined {
    return this.objects.find((o) => o.kind === 'Job');
  }
}

function setupError(object: KubeObject, err: unknown): Error {
  const what = describeRef(refOf(object));
  if (err instanceof RequestError && err.status === 403) {
    return new TargetError(
      `creating ${what} was forbidden: ${err.message}`,
      'distribute needs rights to create namespaces, service accounts, ConfigMaps, Jobs, ClusterRoles and ClusterRoleBindings, and must itself hold every permission the ClusterRole grants (RBAC refuses to grant more); a cluster-admin can run it',
    );
  }
  if (err instanceof RequestError) return new TargetError(`creating ${what} failed: ${err.message}`);
  return err as Error;
}

/**
 * Creates the manifests in order (Namespace first, Job last), recording each
 * in `created`. The cluster-scoped RBAC objects become dependents of a
 * Namespace created here. Throws TargetError when the server refuses one, or
 * when it drops the Job's backoffLimitPerIndex (a cluster that would retry shards).
 */
export async function createResources(api: ClusterApi, created: CreatedResources, hooks: Hooks): Promise<void> {
  const m = created.manifests;
  let namespace: KubeObject | undefined;
  for (const manifest of m.all) {
    if (hooks.signal?.aborted) throw new InterruptedError();
    const object = namespace && !manifest.metadata.namespace && manifest.kind !== 'Namespace' ? ownedByNamespace(manifest, namespace) : manifest;
    let answer: KubeObject;
    try {
      answer = await api.create(object, { signal: hooks.signal });
    } catch (err) {
      if (hooks.signal?.aborted) {
        // The request may have reached the server before it was cut: delete it like the rest.
        created.objects.push(refOf(object));
        throw new InterruptedError();
      }
      throw setupError(object, err);
    }
    created.objects.push(refOf(object));
    if (object.kind === 'Namespace') {
      namespace = answer;
      created.namespaceCreated = true;
    }
    hooks.progress(`created ${describeRef(refOf(object))}`);
    if (object.kind === 'Job' && (answer as JobObject).spec?.backoffLimitPerIndex !== 0) {
      throw new TargetError(
        'the cluster dropped the Job\'s spec.backoffLimitPerIndex (Kubernetes before 1.29, or the JobBackoffLimitPerIndex feature gate is off): a failed shard would be run again',
        'use a cluster with Kubernetes 1.29 or later',
      );
    }
  }
}

export interface WaitOptions extends Hooks {
  workers: number;
  timeoutMs: number;
  pollMs?: number;
  /** A progress line at least this often even when nothing changed. */
  heartbeatMs?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A worker pod cannot start; `image`: because its image cannot be pulled (the CLI says which flag names it). */
export class PodCannotStartError extends RunFailedError {
  constructor(
    message: string,
    readonly image: boolean,
  ) {
    super(message);
  }
}

/** The Job did not finish in time (the CLI says how to give it more, or keep the pods to look at). */
export class JobTimeoutError extends RunFailedError {}

/**
 * Polls the Job and its pods until the Job is Complete or Failed, printing
 * progress when it changes. Throws RunFailedError on timeout (JobTimeoutError),
 * when a pod cannot start (PodCannotStartError: image pull, configuration) or the Job disappears, and
 * InterruptedError when the signal fires.
 */
export async function waitForJob(api: ClusterApi, created: CreatedResources, options: WaitOptions): Promise<{ state: 'complete' } | { state: 'failed'; reason: string }> {
  const m = created.manifests;
  const jobRef = created.job ?? refOf(m.job);
  const pollMs = options.pollMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const deadline = performance.now() + options.timeoutMs;
  let last = '';
  let lastAt = 0;
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError();
    const job = await api.get<JobObject>(jobRef, options.signal);
    if (!job) throw new RunFailedError(`${describeRef(jobRef)} disappeared while waiting for it`, 'someone deleted it, or its namespace');
    const pods = await api.listPods<PodObject>(m.names.namespace, m.selector, options.signal);
    const line = describeProgress(job, pods, options.workers);
    if (line !== last || performance.now() - lastAt >= heartbeatMs) {
      options.progress(line);
      last = line;
      lastAt = performance.now();
    }
    const outcome = jobOutcome(job);
    if (outcome.state !== 'running') return outcome;
    const stuck = stuckPod(pods);
    if (stuck) {
      throw new PodCannotStartError(`pod ${stuck.pod} cannot start: ${stuck.reason}${stuck.message ? `: ${stuck.message}` : ''}`, stuck.reason.includes('Image'));
    }
    if (performance.now() >= deadline) {
      throw new JobTimeoutError(`timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${describeRef(jobRef)}: ${line}`);
    }
    await sleep(Math.min(pollMs, Math.max(0, deadline - performance.now())), options.signal);
  }
}

export interface CollectedShard {
  /** 1-based, as `run --shard i/N`. */
  shard: { index: number; count: number };
  pod?: string;
  podState?: string;
  result?: ShardResult;
  /** Why there is no result. */
  problem?: string;
  /** The shard's run id, when its log names it: what `asa-bench cleanup --run` needs if the shard could not clean up. */
  runId?: string;
}

const PHASE_PREFERENCE: Record<string, number> = { Succeeded: 0, Failed: 1 };

/** The pod whose log holds shard k's result: a finished one first, the newest among equals. */
export function podForIndex(pods: readonly PodObject[], index: number): PodObject | undefined {
  const candidates = pods.filter((p) => completionIndexOf(p) === index);
  candidates.sort((a, b) => {
    const pa = PHASE_PREFERENCE[a.status?.phase ?? ''] ?? 2;
    const pb = PHASE_PREFERENCE[b.status?.phase ?? ''] ?? 2;
    const ca = String((a.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
    const cb = String((b.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
    return pa - pb || cb.localeCompare(ca);
  });
  return candidates[0];
}

/** The run id a worker announces on stderr (`run rXXXXXXX: will create …`, from `run`). */
export function runIdInLog(log: string): string | undefined {
  return /\brun (r[a-z0-9]{7}): will create\b/.exec(log)?.[1];
}

/** Reads every shard's result from its pod's log (pods/log); a shard without one gets a `problem`. */
export async function collectShardResults(api: ClusterApi, created: CreatedResources, workers: number, hooks: Hooks): Promise<CollectedShard[]> {
  const m = created.manifests;
  const pods = await api.listPods<PodObject>(m.names.namespace, m.selector, hooks.signal);
  const collected: CollectedShard[] = [];
  for (let k = 0; k < workers; k++) {
    const shard = { index: k + 1, count: workers };
    const pod = podForIndex(pods, k);
    if (!pod) {
      collected.push({ shard, problem: `no pod ran shard ${shard.index}/${workers} (completion index ${k})` });
      continue;
    }
    const name = pod.metadata.name;
    const state = podState(pod);
    let log: string;
    try {
      log = await api.podLog(m.names.namespace, name, WORKER_CONTAINER, hooks.signal);
    } catch (err) {
      collected.push({ shard, pod: name, podState: state, problem: `cannot read the log of pod ${name} (${state}): ${(err as Error).message}` });
      continue;
    }
    const runId = runIdInLog(log);
    try {
      const result = decodeShardResult(log, { source: `pod ${name}`, expected: shard });
      collected.push({ shard, pod: name, podState: state, result, ...(runId ? { runId } : {}) });
      hooks.progress(`shard ${shard.index}/${workers}: result read from pod ${name} (${state})`);
    } catch (err) {
      const tail = log.trimEnd().split('\n').slice(-3).join(' | ');
      collected.push({ shard, pod: name, podState: state, problem: `${(err as Error).message}${tail ? ` (last log lines: ${tail})` : ''}`, ...(runId ? { runId } : {}) });
    }
  }
  return collected;
}

export interface TeardownResult {
  deleted: string[];
  /** Deleted, but still finalizing (a namespace whose contents are being removed). */
  terminating: string[];
  /** Still there (deletion failed or was skipped). */
  leftover: string[];
}

export interface TeardownOptions extends Hooks {
  /** How long to wait for the Job's pods to stop before removing their RBAC. */
  podStopTimeoutMs?: number;
  pollMs?: number;
}

/**
 * Deletes what `created` lists: the Job, then (once its pods have stopped)
 * the rest in reverse order. When `signal` fires, stops and reports the
 * remainder as leftover. Never throws for an object that fails to delete: it
 * is reported.
 */
export async function teardown(api: ClusterApi, created: CreatedResources, options: TeardownOptions): Promise<TeardownResult> {
  const result: TeardownResult = { deleted: [], terminating: [], leftover: [] };
  const remaining = [...created.objects];
  const m = created.manifests;
  const remove = async (ref: ObjectRef) => {
    try {
      await api.delete(ref, options.signal);
      const after = await api.get(ref, options.signal);
      if (!after) result.deleted.push(describeRef(ref));
      else if (after.metadata.deletionTimestamp) result.terminating.push(describeRef(ref));
      else result.leftover.push(describeRef(ref));
    } catch (err) {
      result.leftover.push(`${describeRef(ref)} (${(err as Error).message})`);
    }
  };

  const jobRef = created.job;
  if (jobRef) {
    remaining.splice(remaining.indexOf(jobRef), 1);
    await remove(jobRef);
    const deadline = performance.now() + (options.podStopTimeoutMs ?? (TERMINATION_GRACE_SECONDS + 30) * 1000);
    for (;;) {
      if (options.signal?.aborted) break;
      let running: PodObject[];
      try {
        const pods = await api.listPods<PodObject>(m.names.namespace, m.selector, options.signal);
        running = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      } catch {
        break;
      }
      if (running.length === 0) break;
      if (performance.now() >= deadline) {
        options.progress(`${running.length} worker pods are still stopping; removing their RBAC anyway`);
        break;
      }
      options.progress(`waiting for ${running.length} worker pods to stop (each deletes what its shard created)`);
      await sleep(options.pollMs ?? 2000, options.signal);
    }
  }
  for (const ref of remaining.reverse()) {
    if (options.signal?.aborted) {
      result.leftover.push(describeRef(ref));
      continue;
    }
    await remove(ref);
  }
  for (const d of result.deleted) options.progress(`deleted ${d}`);
  for (const t of result.terminating) options.progress(`deleting ${t} (terminating)`);
  return result;
}

/** kubectl commands that remove everything `created` lists, for --keep and skipped cleanups. */
export function manualCleanupCommands(created: CreatedResources): string[] {
  const m = created.manifests;
  const commands: string[] = [];
  if (created.namespaceCreated) commands.push(`kubectl delete namespace ${m.names.namespace}`);
  else if (created.objects.some((o) => o.namespace)) commands.push(`kubectl -n ${m.names.namespace} delete jobs,configmaps,serviceaccounts -l ${m.selector}`);
  if (created.objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')) commands.push(`kubectl delete clusterrolebindings,clusterroles -l ${m.selector}`);
  return commands;
}
