/**
 * Server-side metrics: what the API server itself reports on /metrics,
 * scraped before and after a phase. A snapshot is compact and serializable
 * (no Infinity, no Maps) so it can be stored with results; `deltaSnapshot`
 * turns two of them into rates, counts and latency quantiles for the interval.
 *
 * Metric names, as kube-apiserver v1.37.2 exposes them (older names are
 * fallbacks): process_resident_memory_bytes, process_cpu_seconds_total,
 * go_memstats_heap_alloc_bytes (go_memstats_alloc_bytes), go_goroutines,
 * apiserver_request_total, apiserver_request_duration_seconds,
 * apiserver_flowcontrol_{rejected_requests_total, current_inqueue_requests,
 * request_wait_duration_seconds, current_executing_seats,
 * current_executing_requests}, apiserver_resource_objects
 * (apiserver_storage_objects before it), etcd_request_duration_seconds,
 * apiserver_watch_events_total. Vectors with no series yet are not exposed at
 * all: APF rejections, queue and wait metrics appear only once a non-exempt
 * request went through APF, and object counts read 0 until the first
 * periodic count (about a minute after start).
 */
import { throwUnlessOk, type KubeClient } from '../kube/client.js';
import {
  diffHistograms,
  hasSamples,
  histogramFromFamily,
  histogramQuantile,
  parsePrometheusText,
  PrometheusTextParser,
  type ParsedMetrics,
  sumSamples,
  sumSamplesBy,
  type Bucket,
  type HistogramData,
  type HistogramFold,
  type HistogramGroup,
  type ParserOptions,
} from './prometheus.js';

/**
 * A cumulative histogram in JSON-safe form. Bounds are the finite `le`s in
 * seconds, cut after the first bucket that already holds every observation
 * (later buckets add nothing to quantiles); the `+Inf` bucket is `count`.
 */
export interface SnapshotHistogram {
  bounds: number[];
  /** Cumulative counts at `bounds`. */
  counts: number[];
  sum: number;
  count: number;
}

export interface ServerSnapshot {
  /** When the server produced the scrape (midpoint of the request), ISO 8601. */
  timestamp: string;
  process: {
    residentMemoryBytes: number;
    cpuSecondsTotal: number;
    /** go_memstats_heap_alloc_bytes, else go_memstats_alloc_bytes. */
    heapAllocBytes: number;
    goroutines: number;
  };
  /** apiserver_request_total. */
  requests: { total: number; byCode: Record<string, number>; byVerb: Record<string, number> };
  /**
   * apiserver_request_duration_seconds by verb and resource, only those with
   * observations. Keys: `VERB resource[.group][/subresource]`, e.g.
   * `LIST configmaps`, `POST widgets.bench.example.com`, `PUT deployments.apps/status`;
   * non-resource requests: `GET /readyz`, `GET /openapi/v3`.
   */
  requestDuration: Record<string, SnapshotHistogram>;
  /** API Priority and Fairness. */
  apf: {
    rejectedTotal: number;
    /** `queue-full`, `time-out`, `concurrency-limit`, `cancelled`. */
    rejectedByReason: Record<string, number>;
    inQueue: number;
    executingSeats: number;
    executingRequests: number;
    /** Queue wait of requests that went on to execute (`execute="true"`), all priority levels. */
    waitDuration: SnapshotHistogram;
  };
  /** Stored objects: apiserver_resource_objects (or apiserver_storage_objects). */
  objects: {
    /** Sum over resources (a failed count, -1, is left out). */
    total: number;
    /** Resource types counted, e.g. grows with installed CRDs. */
    resources: number;
    /** The metric read, or "" when the server has neither. */
    metric: string;
  };
  /** etcd_request_duration_seconds by operation (`get`, `list`, `create`, …). */
  etcdDuration: Record<string, SnapshotHistogram>;
  /** apiserver_watch_events_total. */
  watchEventsTotal: number;
  /** Metrics this scrape had no samples of; their fields read 0. */
  missing: string[];
  /** Lines of the exposition the parser skipped. */
  malformedLines: number;
}

export interface LatencyDelta {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ServerDelta {
  from: string;
  to: string;
  intervalSeconds: number;
  /** Δ process_cpu_seconds_total / Δt. */
  cpuCores: number;
  /** At the end of the interval, and the larger of the two scrapes. */
  memory: { residentBytes: number; residentBytesMax: number; heapAllocBytes: number; heapAllocBytesMax: number };
  goroutines: { end: number; max: number };
  requests: { total: number; perSecond: number; byCode: Record<string, number>; byVerb: Record<string, number>; throttled429: number };
  /** By `VERB resource` key (see ServerSnapshot.requestDuration), only keys with requests in the interval. */
  requestLatency: Record<string, LatencyDelta>;
  apf: { rejected: number; rejectedByReason: Record<string, number>; wait: LatencyDelta; inQueueEnd: number; executingSeatsEnd: number };
  /** By etcd operation, only operations seen in the interval. */
  etcdLatency: Record<string, LatencyDelta>;
  watchEvents: number;
  objects: { before: number; after: number; resourcesAfter: number };
}

const REQUEST_DURATION = 'apiserver_request_duration_seconds';
const ETCD_DURATION = 'etcd_request_duration_seconds';
const APF_WAIT = 'apiserver_flowcontrol_request_wait_duration_seconds';

/** Every family a snapshot reads; the rest of /metrics is skipped while parsing. */
export const SNAPSHOT_FAMILIES: ReadonlySet<string> = new Set([
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'go_memstats_heap_alloc_bytes',
  'go_memstats_alloc_bytes',
  'go_goroutines',
  'apiserver_request_total',
  REQUEST_DURATION,
  APF_WAIT,
  ETCD_DURATION,
  'apiserver_flowcontrol_rejected_requests_total',
  'apiserver_flowcontrol_current_inqueue_requests',
  'apiserver_flowcontrol_current_executing_requests',
  'apiserver_flowcontrol_current_executing_seats',
  'apiserver_watch_events_total',
  'apiserver_storage_objects',
  'apiserver_resource_objects',
]);

/**
 * The histograms a snapshot reads, summed while the scrape is parsed (the
 * request and etcd duration families are most of what a snapshot reads: ~180,000
 * bucket samples with 500-1,000 CRDs).
 */
const SNAPSHOT_FOLDS: ReadonlyMap<string, HistogramFold> = new Map<string, HistogramFold>([
  [REQUEST_DURATION, { groupBy: ['verb', 'group', 'resource', 'subresource'] }],
  // Only requests that went on to execute.
  [APF_WAIT, { filter: { execute: (v) => v !== 'false' } }],
  [ETCD_DURATION, { groupBy: ['operation'] }],
]);

/** How a snapshot's /metrics is parsed: only its families, its histograms summed as they arrive. */
export const SNAPSHOT_PARSE: ParserOptions = { families: SNAPSHOT_FAMILIES, fold: SNAPSHOT_FOLDS };

/** GET /metrics and extract a snapshot. Throws RequestError on a failing status (e.g. 403 without `get` on nonResourceURL /metrics). */
export async function scrapeServerMetrics(client: KubeClient, options: { signal?: AbortSignal; onRead?: (bytes: number, ms: number) => void } = {}): Promise<ServerSnapshot> {
  const started = Date.now();
  const t0 = performance.now();
  // Parsed line by line as the body arrives: the scrape shares the event loop with the load,
  // and a whole-body parse of tens of MB would stall every in-flight request behind it.
  const parser = new PrometheusTextParser(SNAPSHOT_PARSE);
  const req = { method: 'GET', path: '/metrics', headers: client.headers({ accept: 'text/plain' }), signal: options.signal } as const;
  const res = throwUnlessOk(req, await client.streamLines(req, { onLine: (line) => parser.line(line.toString('utf8')) }));
  options.onRead?.(res.bytes, performance.now() - t0);
  const at = new Date((started + Date.now()) / 2);
  return snapshotFromParsed(parser.result(), at);
}

/** A snapshot from the text of a /metrics answer. */
export function snapshotFromMetrics(text: string, at: Date = new Date()): ServerSnapshot {
  return snapshotFromParsed(parsePrometheusText(text, SNAPSHOT_PARSE), at);
}

export function snapshotFromParsed({ families, malformed, histograms }: ParsedMetrics, at: Date): ServerSnapshot {
  const f = new Picker(families, histograms);
  // In this order: `missing` lists what each section looked for and did not find, as it looked.
  return {
    timestamp: at.toISOString(),
    process: processFigures(f),
    requests: requestCounts(f),
    requestDuration: requestDurations(f),
    apf: apfFigures(f),
    objects: objectCounts(f),
    etcdDuration: etcdDurations(f),
    watchEventsTotal: f.sum('apiserver_watch_events_total'),
    missing: f.missing,
    malformedLines: malformed,
  };
}

type Families = ParsedMetrics['families'];

/** Picks families by name, recording the names it did not find. */
class Picker {
  readonly missing: string[] = [];
  constructor(
    readonly families: Families,
    private readonly histograms: ParsedMetrics['histograms'],
  ) {}

  /**
   * A snapshot histogram's groups (SNAPSHOT_FOLDS), summed while parsing or
   * (a parse without `fold`) from its samples; undefined, and recorded as
   * missing, when it has no `_bucket` samples.
   */
  histogram(baseName: string): HistogramGroup[] | undefined {
    const folder = this.histograms.get(baseName);
    if (folder?.seen.has(`${baseName}_bucket`)) return folder.groups();
    if (!folder && hasSamples(this.families, `${baseName}_bucket`)) {
      const fold = SNAPSHOT_FOLDS.get(baseName);
      return histogramFromFamily(this.families, baseName, fold?.filter, fold?.groupBy);
    }
    this.missing.push(`${baseName}_bucket`);
    return undefined;
  }

  /** The first name with samples, else records the names as missing. */
  pick(...names: string[]): string | undefined {
    const found = names.find((n) => hasSamples(this.families, n));
    if (found === undefined) this.missing.push(names.join('|'));
    return found;
  }

  sum(...names: string[]): number {
    const n = this.pick(...names);
    return n === undefined ? 0 : sumSamples(this.families, n);
  }
}

function processFigures(f: Picker): ServerSnapshot['process'] {
  const heap = f.pick('go_memstats_heap_alloc_bytes', 'go_memstats_alloc_bytes');
  return {
    residentMemoryBytes: f.sum('process_resident_memory_bytes'),
    cpuSecondsTotal: f.sum('process_cpu_seconds_total'),
    heapAllocBytes: heap === undefined ? 0 : sumSamples(f.families, heap),
    goroutines: f.sum('go_goroutines'),
  };
}

function requestCounts(f: Picker): ServerSnapshot['requests'] {
  const reqName = f.pick('apiserver_request_total');
  return {
    total: reqName ? sumSamples(f.families, reqName) : 0,
    byCode: reqName ? sumSamplesBy(f.families, reqName, 'code') : {},
    byVerb: reqName ? sumSamplesBy(f.families, reqName, 'verb') : {},
  };
}

function requestDurations(f: Picker): Record<string, SnapshotHistogram> {
  const requestDuration: Record<string, SnapshotHistogram> = {};
  for (const g of f.histogram(REQUEST_DURATION) ?? []) {
    if (g.count <= 0) continue;
    const { verb = '', group = '', resource = '', subresource = '' } = g.labels;
    requestDuration[requestKey(verb, group, resource, subresource)] = toSnapshotHistogram(g);
  }
  return requestDuration;
}

function apfFigures(f: Picker): ServerSnapshot['apf'] {
  const { families } = f;
  const rejected = f.pick('apiserver_flowcontrol_rejected_requests_total');
  const executingSeats = hasSamples(families, 'apiserver_flowcontrol_current_executing_seats');
  const executingRequests = hasSamples(families, 'apiserver_flowcontrol_current_executing_requests');
  if (!executingSeats && !executingRequests) f.missing.push('apiserver_flowcontrol_current_executing_seats|apiserver_flowcontrol_current_executing_requests');
  const wait = f.histogram(APF_WAIT)?.[0];
  return {
    rejectedTotal: rejected ? sumSamples(families, rejected) : 0,
    rejectedByReason: rejected ? sumSamplesBy(families, rejected, 'reason') : {},
    inQueue: f.sum('apiserver_flowcontrol_current_inqueue_requests'),
    executingSeats: sumSamples(families, 'apiserver_flowcontrol_current_executing_seats'),
    executingRequests: sumSamples(families, 'apiserver_flowcontrol_current_executing_requests'),
    waitDuration: wait ? toSnapshotHistogram(wait) : emptyHistogram(),
  };
}

function objectCounts(f: Picker): ServerSnapshot['objects'] {
  const objectsName = f.pick('apiserver_resource_objects', 'apiserver_storage_objects');
  const objects = { total: 0, resources: 0, metric: objectsName ?? '' };
  if (objectsName) {
    for (const s of f.families.get(objectsName)?.samples ?? []) {
      if (s.name !== objectsName || !(s.value >= 0)) continue;
      objects.total += s.value;
      objects.resources++;
    }
  }
  return objects;
}

function etcdDurations(f: Picker): Record<string, SnapshotHistogram> {
  const etcdDuration: Record<string, SnapshotHistogram> = {};
  for (const g of f.histogram(ETCD_DURATION) ?? []) {
    if (g.count > 0) etcdDuration[g.labels.operation ?? ''] = toSnapshotHistogram(g);
  }
  return etcdDuration;
}

/** `VERB resource[.group][/subresource]`, or `VERB /path` for a non-resource request. */
export function requestKey(verb: string, group: string, resource: string, subresource: string): string {
  if (resource === '') return `${verb} /${subresource.replace(/^\//, '')}`;
  return `${verb} ${resource}${group ? `.${group}` : ''}${subresource ? `/${subresource}` : ''}`;
}

function emptyHistogram(): SnapshotHistogram {
  return { bounds: [], counts: [], sum: 0, count: 0 };
}

export function toSnapshotHistogram(h: HistogramData): SnapshotHistogram {
  const bounds: number[] = [];
  const counts: number[] = [];
  for (const b of h.buckets) {
    if (!Number.isFinite(b.le)) break;
    bounds.push(b.le);
    counts.push(b.count);
    if (b.count >= h.count) break;
  }
  return { bounds, counts, sum: h.sum, count: h.count };
}

export function fromSnapshotHistogram(h: SnapshotHistogram): HistogramData {
  const buckets: Bucket[] = h.bounds.map((le, i) => ({ le, count: h.counts[i] ?? 0 }));
  buckets.push({ le: Number.POSITIVE_INFINITY, count: h.count });
  return { buckets, sum: h.sum, count: h.count };
}

/** Increase of a counter; a reset (the server restarted) counts from 0. */
function increase(before: number, after: number): number {
  return after >= before ? after - before : after;
}

function increaseBy(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = increase(before[k] ?? 0, v);
    if (d > 0) out[k] = d;
  }
  return out;
}

const ms = (seconds: number) => (Number.isFinite(seconds) ? Math.round(seconds * 1e6) / 1000 : 0);

/** Count, mean and p50/p99 (ms) of a histogram's observations. */
export function latencyDelta(h: HistogramData): LatencyDelta {
  if (!(h.count > 0)) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0 };
  return {
    count: h.count,
    meanMs: ms(h.sum / h.count),
    p50Ms: ms(histogramQuantile(0.5, h.buckets)),
    p99Ms: ms(histogramQuantile(0.99, h.buckets)),
  };
}

function latencyDeltas(before: Record<string, SnapshotHistogram>, after: Record<string, SnapshotHistogram>): Record<string, LatencyDelta> {
  const out: Record<string, LatencyDelta> = {};
  for (const [key, h] of Object.entries(after)) {
    const prev = before[key];
    // Unchanged (no observations in between): the diff would count 0. Most series with
    // thousands of CRDs, and diffing them all every 5 s was much of the sampler's garbage.
    if (prev && prev.count === h.count) continue;
    const d = diffHistograms(prev && fromSnapshotHistogram(prev), fromSnapshotHistogram(h));
    if (d.count > 0) out[key] = latencyDelta(d);
  }
  return out;
}

/** What happened on the server between two scrapes. */
export function deltaSnapshot(before: ServerSnapshot, after: ServerSnapshot): ServerDelta {
  const seconds = (Date.parse(after.timestamp) - Date.parse(before.timestamp)) / 1000;
  const per = (n: number) => (seconds > 0 ? Math.round((n / seconds) * 1000) / 1000 : 0);
  const total = increase(before.requests.total, after.requests.total);
  const byCode = increaseBy(before.requests.byCode, after.requests.byCode);
  return {
    from: before.timestamp,
    to: after.timestamp,
    intervalSeconds: seconds,
    cpuCores: per(increase(before.process.cpuSecondsTotal, after.process.cpuSecondsTotal)),
    memory: {
      residentBytes: after.process.residentMemoryBytes,
      residentBytesMax: Math.max(before.process.residentMemoryBytes, after.process.residentMemoryBytes),
      heapAllocBytes: after.process.heapAllocBytes,
      heapAllocBytesMax: Math.max(before.process.heapAllocBytes, after.process.heapAllocBytes),
    },
    goroutines: { end: after.process.goroutines, max: Math.max(before.process.goroutines, after.process.goroutines) },
    requests: {
      total,
      perSecond: per(total),
      byCode,
      byVerb: increaseBy(before.requests.byVerb, after.requests.byVerb),
      throttled429: byCode['429'] ?? 0,
    },
    requestLatency: latencyDeltas(before.requestDuration, after.requestDuration),
    apf: {
      rejected: increase(before.apf.rejectedTotal, after.apf.rejectedTotal),
      rejectedByReason: increaseBy(before.apf.rejectedByReason, after.apf.rejectedByReason),
      wait: latencyDelta(diffHistograms(fromSnapshotHistogram(before.apf.waitDuration), fromSnapshotHistogram(after.apf.waitDuration))),
      inQueueEnd: after.apf.inQueue,
      executingSeatsEnd: after.apf.executingSeats,
    },
    etcdLatency: latencyDeltas(before.etcdDuration, after.etcdDuration),
    watchEvents: increase(before.watchEventsTotal, after.watchEventsTotal),
    objects: { before: before.objects.total, after: after.objects.total, resourcesAfter: after.objects.resources },
  };
}
