/**
 * Server-side snapshots: extraction from a saved kube-apiserver v1.37.2
 * scrape (no live server), fallbacks to older metric names, and deltas
 * between two snapshots checked by hand.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient, type RequestError } from '../../src/kube/client.js';
import { parsePrometheusText } from '../../src/metrics/prometheus.js';
import {
  deltaSnapshot,
  fromSnapshotHistogram,
  requestKey,
  scrapeServerMetrics,
  snapshotFromMetrics,
  snapshotFromParsed,
  SNAPSHOT_FAMILIES,
  SNAPSHOT_PARSE,
  toSnapshotHistogram,
  type ServerSnapshot,
  type SnapshotHistogram,
} from '../../src/metrics/server-metrics.js';

const FIXTURE = new URL('../fixtures/metrics/kube-apiserver-v1.37.2.txt', import.meta.url);
const AT = new Date('2026-01-01T00:00:00.000Z');

describe('snapshotFromMetrics on a kube-apiserver v1.37.2 scrape', () => {
  const snap = snapshotFromMetrics(readFileSync(FIXTURE, 'utf8'), AT);

  it('finds every metric it looks for', () => {
    expect(snap.missing).toEqual([]);
    expect(snap.malformedLines).toBe(0);
    expect(snap.timestamp).toBe('2026-01-01T00:00:00.000Z');
  });

  it('reads process and Go runtime gauges', () => {
    expect(snap.process).toEqual({ residentMemoryBytes: 313_745_408, cpuSecondsTotal: 4.72, heapAllocBytes: 139_233_848, goroutines: 2251 });
  });

  it('sums apiserver_request_total by code and verb', () => {
    expect(snap.requests.total).toBe(2091);
    expect(snap.requests.byCode['429']).toBe(1543);
    expect(snap.requests.byCode['200']).toBeGreaterThan(0);
    expect(snap.requests.byCode['201']).toBeGreaterThan(0);
    expect(snap.requests.byVerb.LIST).toBeGreaterThan(1543);
    expect(Object.values(snap.requests.byCode).reduce((a, b) => a + b, 0)).toBe(snap.requests.total);
    expect(Object.values(snap.requests.byVerb).reduce((a, b) => a + b, 0)).toBe(snap.requests.total);
  });

  it('keeps request-duration buckets by verb and resource, only those with requests', () => {
    const list = snap.requestDuration['LIST configmaps'];
    expect(list).toEqual({
      bounds: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6],
      counts: [0, 0, 0, 0, 7, 24, 44],
      sum: 15.201528833,
      count: 44,
    });
    expect(snap.requestDuration['POST configmaps']?.count).toBeGreaterThan(0);
    expect(snap.requestDuration['POST clusterrolebindings.rbac.authorization.k8s.io']?.count).toBeGreaterThan(0);
    expect(snap.requestDuration['GET /readyz']?.count).toBeGreaterThan(0);
    for (const [key, h] of Object.entries(snap.requestDuration)) {
      expect(key).toMatch(/^[A-Z]+ \S+$/);
      expect(h.count).toBeGreaterThan(0);
      expect(h.bounds.length).toBe(h.counts.length);
      expect([...h.bounds].sort((a, b) => a - b)).toEqual(h.bounds);
    }
  });

  it('reads API Priority and Fairness: rejections, queue, seats, wait', () => {
    expect(snap.apf.rejectedTotal).toBe(1543);
    expect(snap.apf.rejectedByReason).toEqual({ 'queue-full': 1543 });
    expect(snap.apf.inQueue).toBe(3);
    expect(snap.apf.executingSeats).toBe(11);
    expect(snap.apf.executingRequests).toBeGreaterThan(0);
    // execute="true" only: 54 requests waited 6.64 s in all.
    expect(snap.apf.waitDuration.count).toBe(54);
    expect(snap.apf.waitDuration.sum).toBeCloseTo(6.641287023, 9);
  });

  it('counts stored objects, etcd latency by operation and watch events', () => {
    expect(snap.objects).toEqual({ total: 208, resources: 62, metric: 'apiserver_resource_objects' });
    for (const op of ['get', 'list', 'create']) expect(snap.etcdDuration[op]?.count).toBeGreaterThan(0);
    expect(snap.watchEventsTotal).toBe(336);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(JSON.stringify(snap).length).toBeLessThan(64 * 1024);
  });

  it('diffed with itself, shows no activity', () => {
    const d = deltaSnapshot(snap, { ...snap, timestamp: '2026-01-01T00:00:10.000Z' });
    expect(d.intervalSeconds).toBe(10);
    expect(d.cpuCores).toBe(0);
    expect(d.requests).toEqual({ total: 0, perSecond: 0, byCode: {}, byVerb: {}, throttled429: 0 });
    expect(d.requestLatency).toEqual({});
    expect(d.etcdLatency).toEqual({});
    expect(d.apf.rejected).toBe(0);
    expect(d.apf.wait.count).toBe(0);
    expect(d.memory.residentBytes).toBe(313_745_408);
  });
});

describe('snapshotFromMetrics on older or sparser servers', () => {
  it('falls back to go_memstats_alloc_bytes, apiserver_storage_objects and executing requests', () => {
    const text = [
      '# TYPE go_memstats_alloc_bytes gauge',
      'go_memstats_alloc_bytes 1000',
      '# TYPE apiserver_storage_objects gauge',
      'apiserver_storage_objects{resource="pods"} 10',
      'apiserver_storage_objects{resource="widgets.bench.example.com"} 5',
      'apiserver_storage_objects{resource="broken"} -1',
      '# TYPE apiserver_flowcontrol_current_executing_requests gauge',
      'apiserver_flowcontrol_current_executing_requests{priority_level="exempt"} 2',
    ].join('\n');
    const snap = snapshotFromMetrics(text, AT);
    expect(snap.process.heapAllocBytes).toBe(1000);
    expect(snap.objects).toEqual({ total: 15, resources: 2, metric: 'apiserver_storage_objects' });
    expect(snap.apf.executingRequests).toBe(2);
    expect(snap.apf.executingSeats).toBe(0);
    expect(snap.missing).toContain('apiserver_request_total');
    expect(snap.missing).toContain('apiserver_flowcontrol_rejected_requests_total');
    expect(snap.missing).not.toContain('go_memstats_heap_alloc_bytes|go_memstats_alloc_bytes');
    expect(snap.requestDuration).toEqual({});
    expect(snap.apf.waitDuration).toEqual({ bounds: [], counts: [], sum: 0, count: 0 });
  });

  it('counts malformed lines of the families it reads, and still extracts the rest', () => {
    // Lines of families a snapshot does not read are skipped unparsed, so they are not counted.
    const snap = snapshotFromMetrics('go_goroutines 12\napiserver_request_total{code="200" oops\ngarbage line here\nprocess_cpu_seconds_total 3.5\n', AT);
    expect(snap.malformedLines).toBe(1);
    expect(snap.process.goroutines).toBe(12);
    expect(snap.process.cpuSecondsTotal).toBe(3.5);
  });
});

describe('requestKey', () => {
  it('names resources with group and subresource, and non-resource paths', () => {
    expect(requestKey('LIST', '', 'configmaps', '')).toBe('LIST configmaps');
    expect(requestKey('PUT', 'apps', 'deployments', 'status')).toBe('PUT deployments.apps/status');
    expect(requestKey('GET', '', '', '/readyz')).toBe('GET /readyz');
    expect(requestKey('GET', '', '', 'openapi/v3')).toBe('GET /openapi/v3');
  });
});

describe('toSnapshotHistogram', () => {
  it('cuts after the first full bucket without changing quantiles, and restores +Inf', () => {
    const h = {
      buckets: [{ le: 0.1, count: 2 }, { le: 0.5, count: 6 }, { le: 1, count: 6 }, { le: 5, count: 6 }, { le: Infinity, count: 6 }],
      sum: 1.5,
      count: 6,
    };
    const s = toSnapshotHistogram(h);
    expect(s).toEqual({ bounds: [0.1, 0.5], counts: [2, 6], sum: 1.5, count: 6 });
    expect(fromSnapshotHistogram(s).buckets).toEqual([{ le: 0.1, count: 2 }, { le: 0.5, count: 6 }, { le: Infinity, count: 6 }]);
  });
});

/** A snapshot with everything zero but what `patch` sets. */
function snapshot(timestamp: string, patch: Partial<ServerSnapshot> = {}): ServerSnapshot {
  return {
    timestamp,
    process: { residentMemoryBytes: 0, cpuSecondsTotal: 0, heapAllocBytes: 0, goroutines: 0 },
    requests: { total: 0, byCode: {}, byVerb: {} },
    requestDuration: {},
    apf: { rejectedTotal: 0, rejectedByReason: {}, inQueue: 0, executingSeats: 0, executingRequests: 0, waitDuration: { bounds: [], counts: [], sum: 0, count: 0 } },
    objects: { total: 0, resources: 0, metric: 'apiserver_resource_objects' },
    etcdDuration: {},
    watchEventsTotal: 0,
    missing: [],
    malformedLines: 0,
    ...patch,
  };
}

const hist = (bounds: number[], counts: number[], sum: number, count: number): SnapshotHistogram => ({ bounds, counts, sum, count });
const BOUNDS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 1];

describe('deltaSnapshot', () => {
  const before = snapshot('2026-01-01T00:00:00.000Z', {
    process: { residentMemoryBytes: 500e6, cpuSecondsTotal: 100, heapAllocBytes: 300e6, goroutines: 900 },
    requests: { total: 1000, byCode: { '200': 900, '201': 100 }, byVerb: { GET: 600, LIST: 300, POST: 100 } },
    requestDuration: {
      'LIST widgets.bench.example.com': hist(BOUNDS, [0, 10, 50, 90, 100, 100, 100], 5, 100),
      'GET configmaps': hist(BOUNDS, [5, 5, 5, 5, 5, 5, 5], 0.01, 5),
    },
    apf: {
      rejectedTotal: 10,
      rejectedByReason: { 'queue-full': 10 },
      inQueue: 4,
      executingSeats: 20,
      executingRequests: 15,
      waitDuration: hist([0.001, 0.01, 0.1], [10, 10, 10], 0.002, 10),
    },
    objects: { total: 5000, resources: 120, metric: 'apiserver_resource_objects' },
    etcdDuration: { get: hist(BOUNDS, [100, 100, 100, 100, 100, 100, 100], 0.2, 100) },
    watchEventsTotal: 40,
  });
  const after = snapshot('2026-01-01T00:00:20.000Z', {
    process: { residentMemoryBytes: 450e6, cpuSecondsTotal: 130, heapAllocBytes: 400e6, goroutines: 1200 },
    requests: { total: 1600, byCode: { '200': 1300, '201': 150, '429': 150 }, byVerb: { GET: 600, LIST: 850, POST: 150 } },
    requestDuration: {
      // +200 LISTs: 0.025 → 40, 0.05 → 100, 0.1 → 160, 0.2 → 200.
      'LIST widgets.bench.example.com': hist(BOUNDS, [0, 50, 150, 250, 300, 300, 300], 20, 300),
      'GET configmaps': hist(BOUNDS, [5, 5, 5, 5, 5, 5, 5], 0.01, 5),
      // New in `after`, with a bound the other lacks.
      'POST widgets.bench.example.com': hist([0.1, 0.2, 0.4], [0, 25, 50], 10, 50),
    },
    apf: {
      rejectedTotal: 160,
      rejectedByReason: { 'queue-full': 110, 'time-out': 50 },
      inQueue: 7,
      executingSeats: 33,
      executingRequests: 30,
      // +100 waits: 0.01 → 0, 0.1 → 50, 1 → 100.
      waitDuration: hist([0.001, 0.01, 0.1, 1], [10, 10, 60, 110], 30.002, 110),
    },
    objects: { total: 9000, resources: 125, metric: 'apiserver_resource_objects' },
    etcdDuration: { get: hist(BOUNDS, [100, 140, 200, 200, 200, 200, 200], 2.2, 200), list: hist(BOUNDS, [0, 0, 0, 0, 0, 10, 10], 3, 10) },
    watchEventsTotal: 1040,
  });
  const d = deltaSnapshot(before, after);

  it('gives rates over the interval and end/max gauges', () => {
    expect(d.from).toBe(before.timestamp);
    expect(d.to).toBe(after.timestamp);
    expect(d.intervalSeconds).toBe(20);
    expect(d.cpuCores).toBe(1.5); // 30 CPU-seconds in 20 s
    expect(d.memory).toEqual({ residentBytes: 450e6, residentBytesMax: 500e6, heapAllocBytes: 400e6, heapAllocBytesMax: 400e6 });
    expect(d.goroutines).toEqual({ end: 1200, max: 1200 });
    expect(d.watchEvents).toBe(1000);
    expect(d.objects).toEqual({ before: 5000, after: 9000, resourcesAfter: 125 });
  });

  it('counts requests by code and verb, 429s and APF rejections', () => {
    expect(d.requests).toEqual({
      total: 600,
      perSecond: 30,
      byCode: { '200': 400, '201': 50, '429': 150 },
      byVerb: { LIST: 550, POST: 50 },
      throttled429: 150,
    });
    expect(d.apf.rejected).toBe(150);
    expect(d.apf.rejectedByReason).toEqual({ 'queue-full': 100, 'time-out': 50 });
    expect(d.apf.inQueueEnd).toBe(7);
    expect(d.apf.executingSeatsEnd).toBe(33);
  });

  it('computes latency quantiles of the interval only', () => {
    // LIST Δ: 200 requests, Δsum 15 s; cumulative 0.025 → 40, 0.05 → 100, 0.1 → 160, 0.2 → 200.
    // p50: rank 100 at 0.05 exactly → 50 ms. p99: rank 198 in (0.1, 0.2] holding 40, 160 below: 0.1 + 0.1·38/40.
    expect(d.requestLatency['LIST widgets.bench.example.com']).toEqual({ count: 200, meanMs: 75, p50Ms: 50, p99Ms: 195 });
    // Unchanged series drop out; a new one counts whole. p50: rank 25 at 0.2; p99: rank 49.5 in (0.2, 0.4]: 0.2 + 0.2·24.5/25.
    expect(d.requestLatency['GET configmaps']).toBeUndefined();
    expect(d.requestLatency['POST widgets.bench.example.com']).toEqual({ count: 50, meanMs: 200, p50Ms: 200, p99Ms: 396 });
    // APF wait Δ: 100 waits, Δsum 30 s; 0.1 → 50, 1 → 100. p50 = 0.1 → 100 ms; p99: rank 99 in (0.1, 1]: 0.1 + 0.9·49/50.
    expect(d.apf.wait).toEqual({ count: 100, meanMs: 300, p50Ms: 100, p99Ms: 982 });
    // etcd get Δ: 100, 0.005 → 0, 0.025 → 40, 0.05 → 100. p99: rank 99 in (0.025, 0.05]: 0.025 + 0.025·59/60.
    expect(d.etcdLatency.get?.count).toBe(100);
    expect(d.etcdLatency.get?.meanMs).toBe(20);
    expect(d.etcdLatency.get?.p99Ms).toBeCloseTo(49.583, 3);
    // etcd list, new: 10 in (0.2, 0.4]. p50 = 0.3; p99 = 0.2 + 0.2·9.9/10.
    expect(d.etcdLatency.list).toEqual({ count: 10, meanMs: 300, p50Ms: 300, p99Ms: 398 });
  });

  it('treats a counter reset (server restart) as counting from zero', () => {
    const restarted = snapshot('2026-01-01T00:00:20.000Z', {
      process: { residentMemoryBytes: 100e6, cpuSecondsTotal: 4, heapAllocBytes: 50e6, goroutines: 300 },
      requests: { total: 50, byCode: { '200': 50 }, byVerb: { GET: 50 } },
      etcdDuration: { get: hist(BOUNDS, [8, 10, 10, 10, 10, 10, 10], 0.02, 10) },
    });
    const r = deltaSnapshot(before, restarted);
    expect(r.cpuCores).toBe(0.2);
    expect(r.requests.total).toBe(50);
    expect(r.requests.byCode).toEqual({ '200': 50 });
    expect(r.etcdLatency.get?.count).toBe(10);
    expect(r.memory.residentBytesMax).toBe(500e6);
  });
});

describe('SNAPSHOT_FAMILIES', () => {
  it('holds every family a snapshot reads: skipping the rest changes nothing', () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const at = new Date('2026-01-01T00:00:00Z');
    const everything = snapshotFromParsed(parsePrometheusText(text), at);
    expect(snapshotFromMetrics(text, at)).toEqual(everything);
    expect(everything.missing ?? []).toEqual([]);
    // and the filter does skip most of the scrape
    const kept = parsePrometheusText(text, { families: SNAPSHOT_FAMILIES }).families;
    const all = parsePrometheusText(text).families;
    const samples = (m: typeof all) => [...m.values()].reduce((n, f) => n + f.samples.length, 0);
    expect(samples(kept)).toBeLessThan(samples(all) / 2);
  });

  it('with its histograms summed while parsing (SNAPSHOT_PARSE), gives the same snapshot and keeps no bucket sample', () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const at = new Date('2026-01-01T00:00:00Z');
    const parsed = parsePrometheusText(text, SNAPSHOT_PARSE);
    expect(snapshotFromParsed(parsed, at)).toEqual(snapshotFromParsed(parsePrometheusText(text, { families: SNAPSHOT_FAMILIES }), at));
    const buckets = [...parsed.families.values()].flatMap((f) => f.samples).filter((s) => s.name.endsWith('_bucket'));
    expect(buckets).toEqual([]);
    expect([...parsed.histograms.keys()].sort()).toEqual(['apiserver_flowcontrol_request_wait_duration_seconds', 'apiserver_request_duration_seconds', 'etcd_request_duration_seconds']);
  });
});

describe('scrapeServerMetrics', () => {
  /** A local HTTP server answering /metrics (transport detail; the real server's scrape is in test/integration). */
  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ client: KubeClient; close: () => Promise<void> }> {
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const connection = { server: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), context: 't', local: false, tls: { rejectUnauthorized: true }, headers: { authorization: 'Bearer x' } };
    const client = new KubeClient(connection, { connections: 1 });
    return {
      client,
      close: async () => {
        await client.close();
        server.close();
      },
    };
  }

  it('GETs /metrics as text/plain and parses the body as it arrives, chunked anywhere', async () => {
    const seen: IncomingMessage[] = [];
    const text = readFileSync(FIXTURE, 'utf8');
    const { client, close } = await serve((req, res) => {
      seen.push(req);
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Odd-sized writes split lines (and multi-byte characters) across chunks.
      const body = Buffer.from(text);
      let at = 0;
      const next = () => {
        if (at >= body.length) return res.end();
        res.write(body.subarray(at, (at += 7_777)));
        setImmediate(next);
      };
      next();
    });
    try {
      const t0 = Date.now();
      const snap = await scrapeServerMetrics(client);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toBe('/metrics');
      expect(seen[0]!.headers).toMatchObject({ accept: 'text/plain', authorization: 'Bearer x' });
      expect(snap).toEqual({ ...snapshotFromMetrics(text, new Date(snap.timestamp)) });
      expect(snap.process.goroutines).toBeGreaterThan(0);
      expect(Date.parse(snap.timestamp)).toBeGreaterThanOrEqual(t0 - 1);
    } finally {
      await close();
    }
  });

  it('fails with the status class when /metrics is forbidden', async () => {
    const { client, close } = await serve((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', message: 'forbidden: User "x" cannot get path "/metrics"' }));
    });
    try {
      const err = await scrapeServerMetrics(client).catch((e: unknown) => e);
      expect((err as RequestError).errorClass).toBe('http-403');
      expect((err as RequestError).message).toContain('cannot get path');
    } finally {
      await close();
    }
  });
});
