/**
 * Generators: pure functions of (seed, runId, index), repeatable to the byte,
 * lazy, and producing names the API server accepts.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { BENCH_DOMAIN, crdManifest, crdManifests, crdRef, type CrdSpecInput } from '../../src/generators/crds.js';
import { LABEL_RUN, LABEL_SHARD } from '../../src/generators/labels.js';
import { newRunId, RUN_ID } from '../../src/generators/run-id.js';
import { objectManifest, objectManifests, objectRef, type ObjectSpecInput } from '../../src/generators/objects.js';
import { Random } from '../../src/generators/random.js';
import { loadScenarioFile } from '../../src/scenarios/parse.js';
import { compilePlan, estimatePlan } from '../../src/scenarios/plan.js';
import { CrdGenerator, ObjectGenerator } from '../../src/scenarios/schema.js';

const RUN = 'rtest001';

type CrdShape = z.input<typeof CrdGenerator>;

const crdInput = (seed: number, crds: CrdShape, runId = RUN): CrdSpecInput => ({
  seed,
  runId,
  crds: CrdGenerator.parse(crds),
});
const objectInput = (seed: number, objects: z.input<typeof ObjectGenerator> = {}, runId = RUN): ObjectSpecInput => ({
  seed,
  runId,
  objects: ObjectGenerator.parse(objects),
});

const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

/** RFC 1123 label and subdomain, as the API server validates them. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => label.length <= 63 && DNS_LABEL.test(label));
}

const SHAPE = { properties: 12, depth: 3, validationRules: 3 };

describe('CRDs', () => {
  it('same seed and index give identical JSON bytes', () => {
    for (const index of [0, 1, 17, 4999]) {
      const a = bytes(crdManifest(crdInput(42, { count: 5000, groups: 4, versions: 3, schema: SHAPE }), index));
      const b = bytes(crdManifest(crdInput(42, { count: 5000, groups: 4, versions: 3, schema: SHAPE }), index));
      expect(a.equals(b)).toBe(true);
    }
  });

  it('are random-access: CRD i does not depend on producing 0..i-1 first', () => {
    const input = crdInput(7, { count: 50, schema: SHAPE });
    const inOrder = [...crdManifests(input)].map((m) => JSON.stringify(m));
    const backwards = Array.from({ length: 50 }, (_, k) => 49 - k).map((i) => JSON.stringify(crdManifest(input, i)));
    expect(backwards.reverse()).toEqual(inOrder);
    expect([...crdManifests(input, 10, 13)].map((m) => JSON.stringify(m))).toEqual(inOrder.slice(10, 13));
  });

  it('different seeds give different schemas', () => {
    const shape = { count: 10, schema: SHAPE };
    const seeds = [1, 2, 3, 42, -1, 1_000_000];
    const specs = seeds.map((seed) => JSON.stringify(crdManifest(crdInput(seed, shape), 0)));
    expect(new Set(specs).size).toBe(seeds.length);
  });

  it('different indices with the same seed get different schemas', () => {
    const input = crdInput(1, { count: 10, schema: SHAPE });
    const schemas = Array.from({ length: 10 }, (_, i) => JSON.stringify((crdManifest(input, i).spec as { versions: unknown[] }).versions));
    expect(new Set(schemas).size).toBe(10);
  });

  it('names are unique across 5000 indices and valid DNS names', () => {
    const input = crdInput(1, { count: 5000, groups: 37 });
    const names = new Set<string>();
    const plurals = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const ref = crdRef(input, i);
      expect(ref.name).toBe(`${ref.plural}.${ref.group}`);
      expect(ref.name.length).toBeLessThanOrEqual(253);
      expect(isDnsSubdomain(ref.name), ref.name).toBe(true);
      expect(ref.plural.length).toBeLessThanOrEqual(63);
      expect(ref.plural).toMatch(DNS_LABEL);
      expect(isDnsSubdomain(ref.group)).toBe(true);
      expect(ref.group.endsWith(`.${BENCH_DOMAIN}`)).toBe(true);
      expect(ref.kind).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      names.add(ref.name);
      plurals.add(`${ref.group}/${ref.plural}`);
    }
    expect(names.size).toBe(5000);
    expect(plurals.size).toBe(5000);
  });

  it('the manifest agrees with crdRef and carries the run labels', () => {
    const input = crdInput(3, { count: 20, groups: 4, versions: 3, scope: 'Cluster' });
    const ref = crdRef(input, 5);
    const m = crdManifest(input, 5) as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { group: string; scope: string; names: { plural: string; singular: string; kind: string }; versions: { name: string; storage: boolean; served: boolean }[] };
    };
    expect(m.metadata.name).toBe(ref.name);
    expect(m.metadata.labels[LABEL_RUN]).toBe(RUN);
    expect(m.metadata.labels[LABEL_SHARD]).toMatch(/^s\d$/);
    expect(m.spec.group).toBe(ref.group);
    expect(m.spec.scope).toBe('Cluster');
    expect(ref.namespaced).toBe(false);
    expect(m.spec.names.plural).toBe(ref.plural);
    expect(m.spec.names.singular).toMatch(DNS_LABEL);
    expect(m.spec.versions.map((v) => v.name)).toEqual(ref.versions);
    expect(m.spec.versions.filter((v) => v.storage)).toHaveLength(1);
    expect(m.spec.versions[0]!.storage).toBe(true);
    expect(new Set(ref.versions).size).toBe(3);
  });

  it.each([
    [1, 1],
    [4, 20],
    [7, 100],
    [100, 100],
  ])('spreads CRDs over exactly %i group(s) (count %i)', (groups, count) => {
    const input = crdInput(1, { count, groups });
    const used = new Set(Array.from({ length: count }, (_, i) => crdRef(input, i).group));
    expect(used.size).toBe(groups);
  });

  it('puts the run id in every group, so runs never collide', () => {
    const a = crdRef(crdInput(1, { count: 1 }, 'raaaaaaa'), 0);
    const b = crdRef(crdInput(1, { count: 1 }, 'rbbbbbbb'), 0);
    expect(a.group).not.toBe(b.group);
    expect(a.name).not.toBe(b.name);
  });

  it('honours the schema shape (CEL rules, flat schemas)', () => {
    const spec = (schema: CrdShape['schema']) =>
      (crdManifest(crdInput(1, { count: 1, schema }), 0) as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, { type?: string }>; 'x-kubernetes-validations'?: unknown[] } } } } }[] } }).spec
        .versions[0]!.schema.openAPIV3Schema.properties.spec;
    expect(spec({ validationRules: 4 })['x-kubernetes-validations']).toHaveLength(4);
    expect(spec({ validationRules: 0 })['x-kubernetes-validations']).toBeUndefined();
    const flat = spec({ properties: 30, depth: 0 });
    expect(Object.keys(flat.properties)).toHaveLength(32); // payload, replicas and f0..f29
    for (const p of Object.values(flat.properties)) expect(['string', 'integer', 'boolean']).toContain(p.type);
  });

  it('crdManifests is a lazy generator', () => {
    const input = crdInput(1, { count: 1_000_000_000 });
    const it = crdManifests(input);
    expect(Object.prototype.toString.call(it)).toBe('[object Generator]');
    expect(it.next().done).toBe(false);
  });
});

describe('objects', () => {
  const crds = crdInput(9, { count: 5, groups: 2 });
  const refs = Array.from({ length: 5 }, (_, i) => crdRef(crds, i));

  it('same seed gives identical JSON bytes', () => {
    const a = [...objectManifests(objectInput(9, { perCRD: 3, namespaces: 2 }), refs)].map(bytes);
    const b = [...objectManifests(objectInput(9, { perCRD: 3, namespaces: 2 }), refs)].map(bytes);
    expect(a).toHaveLength(15);
    a.forEach((buf, i) => expect(buf.equals(b[i]!)).toBe(true));
  });

  it('different seeds give different objects', () => {
    const ref = objectRef(objectInput(1), refs[0]!, 0);
    const payloads = [1, 2, 3, 1234].map((seed) => JSON.stringify(objectManifest(objectInput(seed), ref)));
    expect(new Set(payloads).size).toBe(4);
  });

  it('objects of different CRDs and indices differ', () => {
    const input = objectInput(1);
    const a = objectManifest(input, objectRef(input, refs[0]!, 0)) as { spec: { payload: string } };
    const b = objectManifest(input, objectRef(input, refs[1]!, 0)) as { spec: { payload: string } };
    const c = objectManifest(input, objectRef(input, refs[0]!, 1)) as { spec: { payload: string } };
    expect(new Set([a.spec.payload, b.spec.payload, c.spec.payload]).size).toBe(3);
  });

  it.each([0, 1, 100, 512, 10_000, 1_000_000])('respects sizeBytes %i (payload length, spec size)', (sizeBytes) => {
    const input = objectInput(5, { sizeBytes });
    const m = objectManifest(input, objectRef(input, refs[2]!, 7)) as { spec: { payload: string; replicas: number } };
    expect(m.spec.payload).toHaveLength(sizeBytes);
    const specBytes = Buffer.byteLength(JSON.stringify(m.spec));
    expect(specBytes).toBeGreaterThanOrEqual(sizeBytes);
    expect(specBytes).toBeLessThanOrEqual(sizeBytes + 64);
  });

  it('carry the run and shard labels, a namespace when namespaced, and address their CRD', () => {
    const input = objectInput(1, { namespaces: 3, labelValues: 2 });
    const clusterCrd = crdRef(crdInput(1, { count: 1, scope: 'Cluster' }), 0);
    const namespaced = objectManifest(input, objectRef(input, refs[1]!, 4)) as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels: Record<string, string> } };
    expect(namespaced.apiVersion).toBe(`${refs[1]!.group}/v1`);
    expect(namespaced.kind).toBe(refs[1]!.kind);
    expect(namespaced.metadata.name).toMatch(DNS_LABEL);
    expect(namespaced.metadata.namespace).toBe(`asa-${RUN}-1`);
    // Shard values advance once per round of namespaces: object 4 with 3 namespaces is in round 1.
    expect(namespaced.metadata.labels).toEqual({ [LABEL_RUN]: RUN, [LABEL_SHARD]: 's1' });
    const cluster = objectManifest(input, objectRef(input, clusterCrd, 4)) as { metadata: { namespace?: string } };
    expect(cluster.metadata.namespace).toBeUndefined();
  });

  it('objectManifests is a lazy generator', () => {
    const input = objectInput(1, { perCRD: 1_000_000_000 });
    let pulled = 0;
    const crdsSeen = (function* () {
      for (const r of refs) {
        pulled++;
        yield r;
      }
    })();
    const gen = objectManifests(input, crdsSeen);
    expect(Object.prototype.toString.call(gen)).toBe('[object Generator]');
    expect(pulled).toBe(0);
    const first = Array.from({ length: 3 }, () => gen.next().value as { metadata: { name: string } });
    expect(first.map((m) => m.metadata.name)).toEqual(['obj-000000', 'obj-000001', 'obj-000002']);
    expect(pulled).toBe(1);
  });
});

describe('Random and run ids', () => {
  it('nearby seeds, streams and indices give unrelated streams', () => {
    const draw = (r: Random) => Array.from({ length: 4 }, () => r.uint32()).join(',');
    const streams = [new Random(1), new Random(2), new Random(1, 'crd'), new Random(1, 'crd', 1), new Random(1, 'obj-0', 1)].map(draw);
    expect(new Set(streams).size).toBe(streams.length);
    expect(draw(new Random(5, 'x', 3))).toBe(draw(new Random(5, 'x', 3)));
  });

  it('int stays in range and text has the asked length and alphabet', () => {
    const r = new Random(11);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(7);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(7);
    }
    expect(r.text(300)).toMatch(/^[a-z0-9]{300}$/);
  });

  it('run ids match RUN_ID and differ', () => {
    const ids = Array.from({ length: 50 }, newRunId);
    for (const id of ids) expect(id).toMatch(RUN_ID);
    expect(new Set(ids).size).toBe(50);
  });
});

describe('estimatePlan', () => {
  it('scenarios/smoke.yaml creates 20 CRDs and 100 objects', async () => {
    const { doc } = await loadScenarioFile('scenarios/smoke.yaml');
    const estimate = estimatePlan(compilePlan(doc));
    expect(estimate.crdsCreated).toBe(20);
    expect(estimate.objectsCreated).toBe(100);
    expect(estimate.bytesSent).toBeGreaterThan(100 * 1024);
    const install = estimate.rows.find((r) => r.phase === 'install');
    expect(install?.creates).toBe(20);
    const create = estimate.rows.find((r) => r.phase === 'create');
    expect(create?.creates).toBe(100);
  });
});
