/**
 * The attribution tables on real profiles from the local kube-apiserver and etcd
 * (test/fixtures/pprof/README.md says how they were taken).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attribute, heapGrowth } from '../../src/profiles/attribute.js';
import { Classifier, OTHER, TABLES, type TableName } from '../../src/profiles/components.js';
import { decodeProfile, mergeProfiles, sampleTypeIndex } from '../../src/profiles/decode.js';
import { ROOT } from '../helpers/cli.js';

const fixture = (name: string) => readFileSync(path.join(ROOT, 'test/fixtures/pprof', name));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const CPU: [string, TableName][] = [
  ['kube-apiserver.install.cpu.pb.gz', 'kube-apiserver'],
  ['kube-apiserver.list-cache.cpu.pb.gz', 'kube-apiserver'],
  ['kube-apiserver.list-cache.step0.cpu.pb.gz', 'kube-apiserver'],
  ['etcd.install.cpu.pb.gz', 'etcd'],
  ['etcd.list-quorum.cpu.pb.gz', 'etcd'],
];
const HEAP: [string, TableName][] = [
  ['kube-apiserver.heap.20crds.pb.gz', 'kube-apiserver'],
  ['kube-apiserver.heap.60crds.pb.gz', 'kube-apiserver'],
  ['etcd.heap.60crds.pb.gz', 'etcd'],
];

describe('decoding real profiles', () => {
  it('a CPU profile has cpu nanoseconds, a duration, and stacks of Go function names', () => {
    const p = decodeProfile(fixture('kube-apiserver.list-cache.cpu.pb.gz'));
    expect(p.sampleTypes.map((t) => `${t.type}/${t.unit}`)).toEqual(['samples/count', 'cpu/nanoseconds']);
    expect(p.durationNanos).toBeGreaterThan(2e9);
    expect(p.samples.length).toBeGreaterThan(10);
    // 100 Hz: each sample is 10 ms of CPU.
    for (const s of p.samples) expect(s.values[1]).toBe(s.values[0]! * 10_000_000);
    expect(p.samples.flatMap((s) => s.stack).some((f) => f.startsWith('k8s.io/apiserver/pkg/'))).toBe(true);
  });

  it('a heap profile has inuse_space', () => {
    const p = decodeProfile(fixture('kube-apiserver.heap.20crds.pb.gz'));
    expect(sampleTypeIndex(p, 'inuse_space')).toBeGreaterThanOrEqual(0);
    expect(sampleTypeIndex(p, 'alloc_space')).toBeGreaterThanOrEqual(0);
  });

  it('rejects bytes that are not a profile', () => {
    expect(() => decodeProfile(Buffer.from('<html>403 Forbidden</html>'))).toThrow();
  });

  it('merging two CPU profiles keeps every sample and adds the durations', () => {
    const a = fixture('kube-apiserver.list-cache.step0.cpu.pb.gz');
    const b = fixture('kube-apiserver.list-cache.cpu.pb.gz');
    const [pa, pb] = [decodeProfile(a), decodeProfile(b)];
    const merged = decodeProfile(mergeProfiles([a, b]));
    expect(merged.samples.length).toBe(pa.samples.length + pb.samples.length);
    expect(merged.durationNanos).toBe(pa.durationNanos + pb.durationNanos);
    const cpu = (p: typeof pa) => sum(p.samples.map((s) => s.values[1]!));
    expect(cpu(merged)).toBe(cpu(pa) + cpu(pb));
    // Stacks survive re-interning: the multiset of leaf functions is the same.
    const leaves = (p: typeof pa) => p.samples.map((s) => s.stack.join('|')).sort();
    expect(leaves(merged)).toEqual([...leaves(pa), ...leaves(pb)].sort());
  });

  it('refuses to merge a CPU profile with a heap profile', () => {
    expect(() => mergeProfiles([fixture('kube-apiserver.list-cache.cpu.pb.gz'), fixture('kube-apiserver.heap.20crds.pb.gz')])).toThrow(/different sample types/);
  });
});

describe.each([...CPU.map(([f, t]) => [f, t, 'cpu'] as const), ...HEAP.map(([f, t]) => [f, t, 'inuse_space'] as const)])('%s', (file, table, type) => {
  const profile = decodeProfile(fixture(file));
  const a = attribute(profile, table, type);
  const total = sum(profile.samples.map((s) => s.values[sampleTypeIndex(profile, type)]!));

  it('cumulative and flat attribution each account for every sample exactly once (100 %)', () => {
    expect(a.total).toBeCloseTo(total, 0);
    expect(sum(a.components.map((c) => c.value))).toBeCloseTo(total, -1);
    expect(sum(a.components.map((c) => c.flat))).toBeCloseTo(total, -1);
    expect(sum(a.components.map((c) => c.share))).toBeCloseTo(1, 4);
  });

  it('each component\'s top functions are frames of that component (or unmapped, for other)', () => {
    const classifier = new Classifier(TABLES[table]);
    for (const c of a.components) {
      for (const t of c.top) expect(classifier.frame(t.function), `${c.component}: ${t.function}`).toBe(c.component === OTHER ? undefined : c.component);
    }
  });

  it('leaves little unmapped: other stays under 10 %', () => {
    expect(a.components.find((c) => c.component === OTHER)?.share ?? 0).toBeLessThan(0.1);
  });
});

describe('what the kube-apiserver table says about real profiles', () => {
  it('the OpenAPI builder\'s memory is OpenAPI, and OpenAPI is the largest part of the heap', () => {
    const a = attribute(decodeProfile(fixture('kube-apiserver.heap.60crds.pb.gz')), 'kube-apiserver', 'inuse_space');
    expect(a.components[0]!.component).toBe('openapi');
    const fns = [...a.functions.get('openapi')!.keys()];
    expect(fns.some((f) => f.startsWith('k8s.io/kube-openapi/pkg/builder3.'))).toBe(true);
    // Allocations made by encoding/json for kube-openapi are OpenAPI's: no json frame owns OpenAPI bytes...
    expect(fns.every((f) => !f.startsWith('encoding/json.'))).toBe(true);
    // ...while flat attribution (where the allocation happened) still shows encoding/json.
    expect(a.components.find((c) => c.component === 'encoding')!.flat).toBeGreaterThan(a.components.find((c) => c.component === 'encoding')!.value);
  });

  it('installing CRDs with a CEL rule spends CPU in OpenAPI, apiextensions, CEL and the watch cache', () => {
    const a = attribute(decodeProfile(fixture('kube-apiserver.install.cpu.pb.gz')), 'kube-apiserver', 'cpu', 1e-9);
    const ids = a.components.filter((c) => c.value > 0).map((c) => c.component);
    expect(ids).toEqual(expect.arrayContaining(['openapi', 'apiextensions', 'watch-cache', 'runtime']));
  });

  it('serving /metrics to the scraper is metrics, not request handling', () => {
    const a = attribute(decodeProfile(fixture('kube-apiserver.list-cache.cpu.pb.gz')), 'kube-apiserver', 'cpu', 1e-9);
    const metrics = a.functions.get('metrics')!;
    expect([...metrics.keys()].some((f) => f.startsWith('github.com/prometheus/client_golang/'))).toBe(true);
    expect([...(a.functions.get('request-handling') ?? new Map()).keys()].some((f) => f.startsWith('github.com/prometheus/'))).toBe(false);
  });

  it('heap growth from 20 to 60 CRDs adds up by component, and OpenAPI grows most', () => {
    const at = (file: string) => attribute(decodeProfile(fixture(file)), 'kube-apiserver', 'inuse_space');
    const g = heapGrowth('kube-apiserver', { step: 0, crds: 20, attribution: at('kube-apiserver.heap.20crds.pb.gz') }, { step: 1, crds: 60, attribution: at('kube-apiserver.heap.60crds.pb.gz') });
    expect(sum(g.components.map((c) => c.deltaBytes))).toBeCloseTo(g.deltaBytes, -2);
    expect(sum(g.components.map((c) => c.shareOfGrowth))).toBeCloseTo(1, 2);
    expect(g.perCrdBytes).toBe(Math.round(g.deltaBytes / 40));
    expect(g.components[0]!.component).toBe('openapi');
    expect(g.components[0]!.top.length).toBeGreaterThan(0);
  });
});

describe('what the etcd table says about real profiles', () => {
  it('etcd serving a write-heavy install spends CPU in MVCC, bbolt or raft, not only in other', () => {
    const a = attribute(decodeProfile(fixture('etcd.install.cpu.pb.gz')), 'etcd', 'cpu', 1e-9);
    const ids = a.components.filter((c) => c.value > 0).map((c) => c.component);
    expect(ids.some((id) => ['mvcc', 'bbolt', 'raft', 'wal', 'apply'].includes(id))).toBe(true);
  });
});
