/**
 * The Kubernetes objects `asa-bench distribute` creates to run the shards of
 * a scenario as pods: a Namespace (unless an existing one is used), a
 * ServiceAccount, a ClusterRole and its ClusterRoleBinding, a ConfigMap with
 * the scenario file, and an Indexed Job whose pod k runs shard k+1 of N
 * (`asa-bench distribute-worker`, which reads JOB_COMPLETION_INDEX).
 *
 * RBAC: the ClusterRole grants what the engine requests (src/engine/ops.ts,
 * cleanup.ts, watch.ts, server-sampler.ts, and GET /version from the target
 * check), nothing else:
 * - customresourcedefinitions: create, get (servable checks), list (cleanup
 *   by label), watch (Established is learnt from one watch on the run's
 *   CRDs, src/engine/established.ts), delete;
 * - namespaces: create (object namespaces), list and delete (cleanup). Not
 *   namespaces/finalize: only the embedded control plane, which has no
 *   namespace controller, needs that;
 * - the generated custom resources: create, get, list, watch, patch, delete.
 *   Least privilege stops short here: their groups are
 *   `gNNNN-<run id>.bench.asa.io` and each pod picks its run id when it
 *   starts, while RBAC has no group-suffix wildcard. So the rule names every
 *   plural a shard can create (`bench00000s` …, fixed by the CRD index) in
 *   apiGroups `*`. Above MAX_NAMED_RESOURCES plurals per shard the list would
 *   not fit comfortably in one object, and the rule falls back to every
 *   resource of every group (said in a warning);
 * - non-resource URLs, get: discovery (/api, /apis and below), OpenAPI
 *   (/openapi/*), /version and /metrics (the server's own metrics). Most
 *   clusters grant the discovery and OpenAPI paths to every authenticated
 *   user already (system:discovery); they are listed so hardened clusters work.
 *
 * Pure functions: same inputs, same objects.
 */
import { stringify } from 'yaml';
import { CONFIGMAP_LIMIT_BYTES } from '../export/k6.js';
import { crdRef } from '../generators/crds.js';
import { compilePlan } from '../scenarios/plan.js';
import type { ScenarioDoc } from '../scenarios/schema.js';
import { sliceScenario } from '../shard/slice.js';

/** Label on everything one `distribute` creates (and on its pods), with its id. */
export const DISTRIBUTE_LABEL = 'asa-bench.io/distribute';
/** Set by the Job controller on every pod of an Indexed Job. */
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const WORKER_CONTAINER = 'worker';
/** The scenario's key in the ConfigMap, hence its file name in the pod. */
export const SCENARIO_KEY = 'scenario.yaml';
export const SCENARIO_MOUNT = '/etc/asa-bench';
/** An emptyDir: the root filesystem is read-only; results and the in-cluster kubeconfig go here. */
export const SCRATCH_MOUNT = '/tmp';
export const WORKER_RESULT_DIR = '/tmp/asa-bench/result';
/**
 * On SIGTERM (Job deleted, deadline, Ctrl-C in `distribute`) a worker writes
 * partial results and deletes what its shard created; that takes more than
 * the default 30 s with thousands of CRDs.
 */
export const TERMINATION_GRACE_SECONDS = 120;
/** More plurals per shard than this: the custom-resource rule becomes `*` (see the header). */
export const MAX_NAMED_RESOURCES = 20_000;
/** The non-root user of the image (node's `node` user, see Dockerfile). */
export const WORKER_UID = 1000;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
    uid?: string;
    deletionTimestamp?: string;
  };
  [field: string]: unknown;
}

export interface DistributeSpec {
  /** Names everything this distribute creates (8 lowercase characters, like a run id). */
  id: string;
  /** The scenario file's text, shipped byte for byte in the ConfigMap. */
  scenarioText: string;
  /** The validated scenario. */
  doc: ScenarioDoc;
  workers: number;
  image: string;
  namespace: string;
  /** True: the Namespace is created (and deleted) by distribute; false: an existing one is used. */
  createNamespace: boolean;
  /** The Job's activeDeadlineSeconds: the cluster stops the pods even if `distribute` is gone. */
  timeoutSeconds: number;
  /** Flags passed on to every worker (connections, http2, request timeout, allow-huge). */
  workerFlags: string[];
}

export interface DistributeNames {
  namespace: string;
  serviceAccount: string;
  clusterRole: string;
  clusterRoleBinding: string;
  configMap: string;
  job: string;
}

export interface DistributeManifests {
  names: DistributeNames;
  /** Label selector of everything created, pods included. */
  selector: string;
  namespace?: KubeObject;
  serviceAccount: KubeObject;
  clusterRole: KubeObject;
  clusterRoleBinding: KubeObject;
  configMap: KubeObject;
  job: KubeObject;
  /** In creation order (Namespace first, Job last). */
  all: KubeObject[];
  warnings: string[];
}

export function distributeNames(id: string, namespace: string): DistributeNames {
  return {
    namespace,
    // The ServiceAccount, ConfigMap and Job carry the id too: an existing namespace may hold several runs.
    serviceAccount: `asa-bench-worker-${id}`,
    clusterRole: `asa-bench-worker-${id}`,
    clusterRoleBinding: `asa-bench-worker-${id}`,
    configMap: `asa-bench-${id}-scenario`,
    job: `asa-bench-${id}`,
  };
}

export function defaultNamespace(id: string): string {
  return `asa-bench-${id}`;
}

/**
 * The most CRDs any one shard installs (at any step): shard i's CRD indices
 * run from 0, so this bounds the plurals the ClusterRole names. Slicing every
 * shard also checks the split up front (UsageError when a shard gets no CRDs).
 */
export function maxCrdsPerShard(doc: ScenarioDoc, workers: number): number {
  let max = 0;
  for (let index = 1; index <= workers; index++) {
    const plan = compilePlan(sliceScenario(doc, index, workers));
    for (const step of plan.steps) max = Math.max(max, step.crds);
  }
  return max;
}

/** The plurals of CRDs 0..count-1, from the generator itself so the names cannot drift apart. */
export function benchPlurals(doc: ScenarioDoc, count: number): string[] {
  const crds = doc.generate.crds;
  if (!crds) return [];
  // The plural depends on the index only; the run id here is a placeholder.
  return Array.from({ length: count }, (_, i) => crdRef({ seed: doc.seed, runId: 'r0000000', crds }, i).plural);
}

export function workerRules(doc: ScenarioDoc, crdsPerShard: number): { rules: Record<string, unknown>[]; warnings: string[] } {
  const warnings: string[] = [];
  const rules: Record<string, unknown>[] = [
    { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['create', 'get', 'list', 'watch', 'delete'] },
    { apiGroups: [''], resources: ['namespaces'], verbs: ['create', 'list', 'delete'] },
  ];
  const customVerbs = ['create', 'get', 'list', 'watch', 'patch', 'delete'];
  if (crdsPerShard > MAX_NAMED_RESOURCES) {
    warnings.push(
      `${crdsPerShard} CRDs per shard: too many resource names for one ClusterRole rule, so the workers may use every resource of every group (apiGroups and resources "*")`,
    );
    rules.push({ apiGroups: ['*'], resources: ['*'], verbs: customVerbs });
  } else if (crdsPerShard > 0) {
    rules.push({ apiGroups: ['*'], resources: benchPlurals(doc, crdsPerShard), verbs: customVerbs });
  }
  rules.push({ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/openapi/*', '/version', '/metrics'], verbs: ['get'] });
  return { rules, warnings };
}

/** Every manifest of one distributed run. */
export function buildManifests(spec: DistributeSpec): DistributeManifests {
  if (!Number.isInteger(spec.workers) || spec.workers < 1) throw new Error(`workers ${spec.workers}: expected a whole number of at least 1`);
  const names = distributeNames(spec.id, spec.namespace);
  const labels = {
    'app.kubernetes.io/name': 'asa-bench',
    'app.kubernetes.io/component': 'distribute',
    'app.kubernetes.io/managed-by': 'asa-bench',
    [DISTRIBUTE_LABEL]: spec.id,
  };
  const warnings: string[] = [];
  const meta = (name: string, namespaced: boolean) => ({ name, ...(namespaced ? { namespace: spec.namespace } : {}), labels: { ...labels } });

  const namespace: KubeObject | undefined = spec.createNamespace ? { apiVersion: 'v1', kind: 'Namespace', metadata: meta(names.namespace, false) } : undefined;
  const serviceAccount: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(names.serviceAccount, true) };
  const { rules, warnings: ruleWarnings } = workerRules(spec.doc, maxCrdsPerShard(spec.doc, spec.workers));
  warnings.push(...ruleWarnings);
  const clusterRole: KubeObject = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(names.clusterRole, false), rules };
  const clusterRoleBinding: KubeObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(names.clusterRoleBinding, false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: names.clusterRole },
    subjects: [{ kind: 'ServiceAccount', name: names.serviceAccount, namespace: spec.namespace }],
  };
  const scenarioBytes = Buffer.byteLength(spec.scenarioText, 'utf8');
  if (scenarioBytes > CONFIGMAP_LIMIT_BYTES) {
    warnings.push(`the scenario file is ${scenarioBytes} bytes, over the 1 MiB ConfigMap limit: the API server will reject the ConfigMap`);
  }
  const configMap: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(names.configMap, true), data: { [SCENARIO_KEY]: spec.scenarioText } };

  const job = workerJob(spec, names, meta(names.job, true), { ...labels });
  const all = [...(namespace ? [namespace] : []), serviceAccount, clusterRole, clusterRoleBinding, configMap, job];
  return { names, selector: `${DISTRIBUTE_LABEL}=${spec.id}`, namespace, serviceAccount, clusterRole, clusterRoleBinding, configMap, job, all, warnings };
}

/** The Indexed Job whose pods each run one shard (`distribute-worker`, reading JOB_COMPLETION_INDEX). */
function workerJob(spec: DistributeSpec, names: DistributeNames, metadata: KubeObject['metadata'], podLabels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      completionMode: 'Indexed',
      completions: spec.workers,
      parallelism: spec.workers,
      // Each shard runs once: a retry would offer the shard's load again under a new run id.
      // Per index, so a shard that fails does not stop the others (their results still arrive).
      backoffLimitPerIndex: 0,
      // Not 0: the Job-wide limit counts failures over all indexes and would end every shard
      // at the first failure. N never fires before each shard has had its one attempt.
      backoffLimit: spec.workers,
      activeDeadlineSeconds: spec.timeoutSeconds,
      // No ttlSecondsAfterFinished: distribute deletes the Job after reading the pods' logs,
      // and a TTL could remove them before that (or while the user looks at them with --keep).
      template: {
        metadata: { labels: podLabels },
        spec: {
          serviceAccountName: names.serviceAccount,
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          // Scaling out means more machines: spread the workers over nodes where the scheduler can.
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { [DISTRIBUTE_LABEL]: spec.id } } }],
          // The "restricted" Pod Security Standard, so namespaces that enforce it admit the pods.
          securityContext: { runAsNonRoot: true, runAsUser: WORKER_UID, runAsGroup: WORKER_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: WORKER_CONTAINER,
              image: spec.image,
              args: ['distribute-worker', `${SCENARIO_MOUNT}/${SCENARIO_KEY}`, '--count', String(spec.workers), '--out', WORKER_RESULT_DIR, ...spec.workerFlags],
              // Requests only: a CPU limit would throttle the load generator and inflate the latencies it measures.
              resources: { requests: { cpu: '1', memory: '512Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'scenario', mountPath: SCENARIO_MOUNT, readOnly: true },
                { name: 'scratch', mountPath: SCRATCH_MOUNT },
              ],
            },
          ],
          volumes: [
            { name: 'scenario', configMap: { name: names.configMap } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      },
    },
  };
}

/**
 * The cluster-scoped objects made dependents of the created Namespace, so that
 * deleting the namespace (by hand, if `distribute` was killed) also removes the
 * ClusterRole and binding through the garbage collector.
 */
export function ownedByNamespace(object: KubeObject, namespace: { metadata: { name: string; uid?: string } }): KubeObject {
  if (!namespace.metadata.uid) return object;
  return {
    ...object,
    metadata: { ...object.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'Namespace', name: namespace.metadata.name, uid: namespace.metadata.uid }] },
  };
}

/** Multi-document YAML, in creation order. */
export function manifestsYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
