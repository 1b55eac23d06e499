/**
 * The result model: plain, serializable values. Reporters and compare import
 * only this file; everything they render is a function of these values.
 */
export const RESULT_FORMAT_VERSION = 1;

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/**
 * Failure classes, few and stable so they can be counted and compared:
 * `http-<code>` (429 apart because it is flow control, not failure),
 * `http2`, `connection`, `timeout`, `dropped` (open model could not start it).
 * The transport classifies its failures (kube/errors.ts); the engine adds its own.
 */
export type ErrorClass = `http-${number}` | 'http2' | 'connection' | 'timeout' | 'dropped' | 'protocol' | 'cancelled';

export interface OpSummary {
  /** Low-cardinality key, e.g. `create.crds`, `list.quorum`, `discovery.aggregated`. */
  op: string;
  /** Requests (or iterations) attempted. */
  count: number;
  ok: number;
  /** Failures by class: `http-<code>`, `http2`, `connection`, `timeout`, `dropped`. */
  errors: Record<string, number>;
  /** The first error message seen per class. */
  errorExamples?: Record<string, string>;
  /** Attempts per second over the phase's wall time. */
  throughput: number;
  /** Response bytes received. */
  bytes: number;
  /** Latency of successful attempts, milliseconds. */
  latencyMs: LatencySummary;
  /** HDR histogram (µs), compressed base64, for exact merges and re-analysis. */
  histogram: string;
}

/**
 * The harness's own CPU, event-loop delay and memory during a phase, for the
 * thread that ran the load (with `run --threads N`, merged over the threads:
 * the worst of each figure). Rules in src/metrics/harness.ts.
 */
export interface HarnessStats {
  /** CPU time of the load thread / wall time: 1.0 = one core fully busy (the event loop's limit). Results before the thread figure existed hold process CPU. */
  cpuCores: number;
  /** Event-loop lateness beyond the 10 ms sampling period, ms (results written before that correction include the 10 ms). */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  rssMaxBytes: number;
  /** CPU, event-loop utilization or delay passed the limits: the numbers may describe the client, not the server. */
  saturated: boolean;
  /** Share of wall time the load thread's event loop was busy (0..1). */
  eventLoopUtilization?: number;
  /** Mean time a response waited for the busy event loop before its callback ran, ms (what the harness added to latencies). */
  eventLoopWaitMs?: number;
  /** CPU of the whole process (every thread, GC and I/O helpers included), cores. */
  processCpuCores?: number;
  /** Why the phase counts as saturated, one phrase per limit passed. */
  saturatedBy?: string[];
  /** Share of wall time this thread's JavaScript was paused for garbage collection (0..1). */
  gcPauseShare?: number;
  /** Longest single GC pause, ms. */
  gcPauseMaxMs?: number;
}

/** The API server's own view of a phase: deltas of its /metrics between the phase's start and end. */
export interface ServerPhaseStats {
  /** kube-apiserver CPU in use over the phase, cores. */
  cpuCores: number;
  /** kube-apiserver resident memory at the end of the phase. */
  rssBytes: number;
  /** Requests the server answered 429 during the phase. */
  requests429: number;
  /** Requests API Priority and Fairness rejected. */
  apfRejected: number;
  /** APF queue wait p99, ms (0 when nothing queued). */
  apfWaitP99Ms: number;
  /** etcd request latency p99 over the phase, ms. */
  etcdP99Ms: number;
  /** The server's own p99 for the phase's requests (apiserver_request_duration_seconds), ms. */
  requestP99Ms: number;
  /** Objects the server stores (apiserver_resource_objects / apiserver_storage_objects). */
  objects: number;
}

/**
 * Open model: how late the harness started its arrivals (intended start →
 * request sent). The open model's latencies count from the intended start (no
 * coordinated omission), so they include this lag: it is the harness's own
 * error, shown apart from the server's latency.
 */
export interface ScheduleStats {
  /** Arrivals started (dropped ones never start). */
  started: number;
  /** Lag percentiles, ms. */
  lagMs: LatencySummary;
  /** HDR histogram (µs) of the lag, compressed base64, for exact merges. */
  histogram: string;
}

export interface PhaseResult {
  step: number;
  /** Value of the swept variable at this step (installed CRDs, workers or arrivals/s). */
  level: number;
  /** CRDs installed during this step. */
  crds: number;
  /** The load this phase offered. */
  load: { model: 'closed'; concurrency: number } | { model: 'open'; ratePerSecond: number; rampToPerSecond?: number };
  phase: string;
  /** The scenario's op for this phase, e.g. `create`, `list`. */
  kind: string;
  /** What ended the phase: a fixed number of iterations, or a duration (or its host phase). */
  limit: 'iterations' | 'duration';
  /** Key of the op row that measures whole iterations of this phase (the SLO target). */
  primary: string;
  startedAt: string;
  durationMs: number;
  ops: OpSummary[];
  /** Why the phase stopped early, if it did. */
  aborted?: string;
  harness: HarnessStats;
  /** Open-model phases: the scheduling lag of their arrivals. */
  schedule?: ScheduleStats;
  /** Server-side figures, when /metrics could be scraped. */
  server?: ServerPhaseStats;
}

export type RunStatus = 'complete' | 'partial' | 'failed';

const STATUS_SEVERITY: Record<RunStatus, number> = { complete: 0, partial: 1, failed: 2 };

/** The worst of several parts' statuses (failed over partial over complete): the status of their merged run. */
export function worstStatus(statuses: readonly RunStatus[]): RunStatus {
  return statuses.reduce((a, b) => (STATUS_SEVERITY[b] > STATUS_SEVERITY[a] ? b : a), 'complete' as RunStatus);
}

export interface TargetInfo {
  server: string;
  /** `local` for the embedded control plane, else the kubeconfig context. */
  context: string;
  local: boolean;
  /** The server's /version answer. */
  version: { gitVersion: string; [key: string]: unknown };
}

/**
 * The server under test on the local control plane, as given and as resolved
 * (src/controlplane/spec.ts parses it; src/controlplane/resolve.ts resolves it).
 * Reporters and compare label runs with it.
 */
export interface ServerRecord {
  /** The spec as given, e.g. `source=/src/k8s,arg=--watch-cache=false`. */
  given: string;
  /** The spec in canonical form (paths absolute, defaults left out). */
  spec: string;
  /** A short name for column headings: `v1.37.2`, `source=kubernetes (patched, 3f2a9c1e)`, `binary=kube-apiserver (sha256 9b1c…)`. */
  label: string;
  kind: 'version' | 'source' | 'binary';
  /** The Kubernetes release the server is built from (or the binary reports). */
  version: string;
  source?: {
    dir: string;
    /** `checkout`: staging modules come from the tree's ./staging; `module`: from the module proxy at `version`. */
    layout: 'checkout' | 'module';
    /** Where `version` came from: `git describe`, the folder name (`kubernetes@vX.Y.Z`), or `version=`. */
    versionFrom: string;
    git?: { describe: string; head: string; dirty: boolean };
    /** Content hash of the tree (what the build cache is keyed by) and how it was computed. */
    hash: string;
    hashMethod: string;
    /** Differs from the published release (`false` when the hash equals the module proxy's go.sum hash of `version`); undefined when unknown. */
    patched?: boolean;
  };
  /** kube-apiserver as run: its path and sha256. */
  kubeApiserver: { path: string; sha256: string };
  controllers: 'kcm' | 'none';
  /** kube-controller-manager as run (controllers=kcm). */
  kubeControllerManager?: { path: string; sha256: string };
  /** Extra kube-apiserver flags from the spec. */
  args: string[];
  /** `storage=`: etcd (default) or kine over SQLite; absent in results written before the key existed (etcd). */
  storage?: 'etcd' | 'kine';
  /** kine as run (storage=kine): its path and sha256. */
  kine?: { path: string; sha256: string };
  /** `flavour=`: kube-apiserver (`full`) or the CRD-only server (then `kubeApiserver` is that binary). */
  flavour?: 'full' | 'crd-only';
  /** `tenants=`: API servers on the one storage (1 unless asked). */
  tenants?: number;
  /** The build cache key (folder name under the asa home's bin/). */
  buildKey: string;
}

/** What a run's steps swept: the axis and its levels in order (from the plan, not from the data). */
export interface SweepFacts {
  by: 'crds' | 'concurrency' | 'rate';
  levels: number[];
}

/** One latency objective of the scenario (`slo:`), normalized: `create.p99: 1s` is phase `create`, stat `p99`, 1000 ms. */
export interface SloFact {
  /** As written, e.g. `create.p99`. */
  key: string;
  phase: string;
  stat: 'p50' | 'p90' | 'p99' | 'p999' | 'max';
  /** The limit as written, e.g. `1s`. */
  limit: string;
  limitMs: number;
}

/**
 * Facts of the plan that readers of a result need (reporters, analysis,
 * compare): they travel in the result so no reader parses the scenario file.
 */
export interface PlanFacts {
  sweep: SweepFacts;
  slos: SloFact[];
}

export interface RunInfo {
  formatVersion: number;
  runId: string;
  tool: { name: 'asa-bench'; version: string; node: string };
  scenario: { name: string; file: string; sha256: string; text: string };
  /** The plan's facts (absent in results written before they were recorded). */
  plan?: PlanFacts;
  target: TargetInfo;
  /** The local control plane's server spec (absent for a kubeconfig target). */
  server?: ServerRecord;
  machine: { cores: number; memoryBytes: number; platform: string };
  flags: Record<string, unknown>;
  startedAt: string;
  endedAt?: string;
  status: RunStatus;
  reason?: string;
  cleanup?: { deleted: number; leftover: number; skipped?: boolean };
  /** The run stopped early on a stop condition or the memory guard (still `complete`): where and why. */
  stoppedAt?: StoppedAt;
  /** The local control plane's storage process over the run (etcd or kine). */
  storage?: StorageStats;
  /** Parts of the scenario the server could not serve and the run left out (e.g. namespaces on the CRD-only server), one sentence each. */
  skipped?: string[];
  /** --shard: this run is shard `index` (1-based) of `count` (see src/shard/slice.ts). */
  shard?: { index: number; count: number };
  /** `run --threads N` (N > 1): each thread's own run id (what `asa-bench cleanup --run` takes) and how it ended. */
  threads?: { index: number; runId: string; status: RunStatus; reason?: string; cleanup?: { deleted: number; leftover: number; skipped?: boolean } }[];
  /** `asa-bench merge`: the shard runs this result was merged from. */
  shards?: { runId: string; index?: number; count?: number; status: RunStatus; startedAt: string; endedAt?: string; dir: string }[];
}

/** One sample of the API server's own metrics over the run. */
export interface ServerSample {
  /** Seconds since the run started. */
  t: number;
  rssBytes: number;
  cpuCores: number;
  /** CRDs installed at that moment. */
  crds: number;
  /** Cumulative 429 responses the server has sent. */
  requests429: number;
  /** Cumulative API Priority and Fairness rejections. (Absent in results written before these were sampled.) */
  apfRejected?: number;
  /** Requests waiting in APF queues at that moment. */
  apfInQueue?: number;
  /** APF queue wait p99 since the previous sample, ms. */
  apfWaitP99Ms?: number;
  /** etcd request latency p99 since the previous sample (the slowest operation), ms. */
  etcdP99Ms?: number;
  /** Objects stored (apiserver_resource_objects summed over resources). */
  objects?: number;
}

export interface RunSummary {
  formatVersion: number;
  runId: string;
  /** With tenants: each step ▸ phase merged over the tenants (levels and CRD counts per tenant; counts add up). */
  phases: PhaseResult[];
  /** Periodic samples of the server's metrics (empty when /metrics was not readable). */
  serverSeries?: ServerSample[];
  /** `run --profile`: the servers' own CPU and heap profiles, attributed to components. */
  profiles?: ProfilesResult;
  /** `tenants=N`: each tenant's own phases and API server series (src/engine/tenants.ts). */
  tenants?: TenantResult[];
}

/** One kube-apiserver of a `tenants=N` control plane and what the scenario measured on it. */
export interface TenantResult {
  /** 1-based. */
  index: number;
  /** Its --etcd-prefix. */
  prefix: string;
  runId: string;
  status: RunStatus;
  reason?: string;
  phases: PhaseResult[];
  serverSeries: ServerSample[];
  /**
   * The storage revision (a list's resourceVersion) this tenant saw at the run's start
   * and end: the counter is shared, so it moves with every tenant's writes.
   */
  revisions?: { start: number; end: number };
  cleanup?: { deleted: number; leftover: number; skipped?: boolean };
}

/**
 * The storage process of the local control plane (etcd or kine), sampled from
 * its own /metrics over the run: one process whatever the number of tenants.
 */
export interface StorageStats {
  kind: 'etcd' | 'kine';
  samples: number;
  rssStartBytes: number;
  rssMaxBytes: number;
  rssEndBytes: number;
  /** CPU the storage process used over the run, core-seconds. */
  cpuSeconds: number;
  /** etcd: the backend database size at the end (etcd_mvcc_db_total_size_in_bytes); absent for kine. */
  dbSizeBytes?: number;
}

/**
 * One component's part of a profile (src/profiles/components.ts has the table and
 * the rules). Values are in the profile's unit: CPU seconds, or bytes of heap in use.
 */
export interface ComponentShare {
  /** Component id from the attribution table, or `other`. */
  component: string;
  name: string;
  /** Cumulative attribution: each sample counted once, for the component that owns it. */
  value: number;
  /** value / the profile's total (0..1); the shares of a profile sum to 1. */
  share: number;
  /** Flat attribution: the component of the leaf-most frame that has one. */
  flat: number;
  /** Functions behind `value` (the owning component's leaf-most frame), largest first, at most 5. */
  top: { function: string; value: number }[];
}

/** A CPU profile taken while one step ▸ phase group ran. */
export interface CpuProfileResult {
  /** The profiled process: `kube-apiserver`, `etcd` (kine when used). */
  source: string;
  step: number;
  level: number;
  crds: number;
  /** The host phase of the group; `phases` lists the group (host and its `during` companions). */
  phase: string;
  phases: string[];
  /** Path of the raw profile (gzipped profile.proto) relative to the run directory. */
  file: string;
  /** Seconds of profile taken (the phase's time, rounded up to whole profile requests). */
  profiledSeconds: number;
  /** CPU time the samples add up to. */
  cpuSeconds: number;
  components: ComponentShare[];
}

/** A heap profile (`inuse_space`, after a forced GC) taken at the end of a step. */
export interface HeapProfileResult {
  source: string;
  step: number;
  level: number;
  crds: number;
  file: string;
  inuseBytes: number;
  components: ComponentShare[];
}

/** Heap growth between two consecutive steps, by component. */
export interface HeapGrowth {
  source: string;
  fromStep: number;
  toStep: number;
  fromCrds: number;
  toCrds: number;
  deltaBytes: number;
  /** deltaBytes / (toCrds - fromCrds); absent when the CRD count did not change. */
  perCrdBytes?: number;
  components: {
    component: string;
    name: string;
    deltaBytes: number;
    perCrdBytes?: number;
    /** Share of the total growth (may be negative or above 1 when other components shrank). */
    shareOfGrowth: number;
    /** Functions whose heap grew most within the component. */
    top: { function: string; deltaBytes: number }[];
  }[];
}

export interface ProfilesResult {
  /** Processes asked for profiles. */
  sources: string[];
  /** Sources (or kinds) that could not be profiled, with the reason: e.g. a remote cluster denying /debug/pprof. */
  unavailable: { source: string; reason: string }[];
  cpu: CpuProfileResult[];
  heap: HeapProfileResult[];
  heapGrowth: HeapGrowth[];
}

/**
 * Where and why a run stopped before its last step (scenario `stopWhen`,
 * `--stop-when`, or the memory guard on the local control plane). Everything
 * the report says about the stop is a function of these values.
 */
export interface StoppedAt {
  /** The last step measured (its phases ran; later steps were skipped). */
  step: number;
  /** The swept variable at that step. */
  level: number;
  /** CRDs installed when the run stopped. */
  crds: number;
  /** The phase after (or during) which the condition tripped; absent when it tripped between steps. */
  phase?: string;
  /** The condition as given (`serverMemory=16GiB`, `install.p99=60s`), or `guard` (the memory guard). */
  condition: string;
  reason: 'server-memory' | 'memory-guard' | 'machine-memory' | 'latency' | 'error-rate' | 'elapsed';
  /** The measured value that tripped it and the limit it passed, in `unit`. */
  value: number;
  limit: number;
  unit: 'bytes' | 'ms' | 'ratio';
  /**
   * Stops that look ahead: the step not started and what it was projected to
   * need (memory: bytes at the per-CRD slope; elapsed: when it would end, from
   * the last step's install rate and measuring time).
   */
  next?: {
    step: number;
    level: number;
    crds: number;
    projectedBytes?: number;
    perCrdBytes?: number;
    /** Run time at which the next step would have ended, ms. */
    projectedEndMs?: number;
    installPerSecond?: number;
    measureMs?: number;
  };
  /** kube-apiserver resident memory when the run stopped. */
  serverRssBytes?: number;
  /** This machine's memory, and what was available when the run stopped (local control plane). */
  machineMemoryBytes?: number;
  availableBytes?: number;
}
