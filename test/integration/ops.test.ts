/**
 * Every phase kind of the engine against the real local kube-apiserver: each
 * case builds a small scenario in code (YAML → parseScenario → compilePlan),
 * runs it with executePlan, and checks what the server returned against an
 * independent look at the server (counts, bytes, discovery documents), then
 * that nothing labelled with the run is left behind.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanup, countLeftovers, listLabelled } from '../../src/engine/cleanup.js';
import { executePlan, type ExecuteResult } from '../../src/engine/run.js';
import { crdRef, type CrdRef } from '../../src/generators/crds.js';
import { LABEL_RUN, LABEL_SHARD } from '../../src/generators/labels.js';
import { objectRef } from '../../src/generators/objects.js';
import { KubeClient } from '../../src/kube/client.js';
import { AGGREGATED_DISCOVERY_ACCEPT, collectionPath, CRD_PATH, objectPath } from '../../src/kube/paths.js';
import { withQuery } from '../../src/kube/query.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { compilePlan, generatorInputs, type Plan } from '../../src/scenarios/plan.js';
import type { OpSummary, PhaseResult } from '../../src/types/results.js';

let client: KubeClient;
const runIds: string[] = [];

beforeAll(async () => {
  const connection = await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true });
  client = new KubeClient(connection, { connections: 16 });
});

afterAll(async () => {
  // Safety net for failed cases: remove whatever any of this file's runs left.
  for (const runId of runIds) {
    if ((await countLeftovers(client, runId)) > 0) await cleanup(client, { runId, finalizeNamespaces: true });
  }
  await client.close();
});

/** 'rops' + 4 random [a-z0-9]: a valid, unique run id. */
function newOpsRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = 'rops';
  for (const b of randomBytes(4)) id += alphabet[b % alphabet.length];
  runIds.push(id);
  return id;
}

interface Ran {
  runId: string;
  plan: Plan;
  result: ExecuteResult;
}

async function runScenario(yaml: string, options: { keep?: boolean } = {}): Promise<Ran> {
  const plan = compilePlan(parseScenario(yaml, 'inline.yaml'));
  const runId = newOpsRunId();
  const result = await executePlan(plan, {
    client,
    runId,
    local: true,
    signal: new AbortController().signal,
    onEvent: () => {},
    keep: options.keep,
  });
  return { runId, plan, result };
}

function phaseOf(result: ExecuteResult, phase: string, step = 0): PhaseResult {
  const p = result.phases.find((r) => r.phase === phase && r.step === step);
  if (!p) throw new Error(`no result for phase ${phase} step ${step}: ${result.phases.map((r) => `${r.phase}@${r.step}`).join(', ')}`);
  return p;
}

function op(result: ExecuteResult, phase: string, key: string, step = 0): OpSummary | undefined {
  return phaseOf(result, phase, step).ops.find((o) => o.op === key);
}

function count(result: ExecuteResult, phase: string, key: string, step = 0): number {
  return op(result, phase, key, step)?.count ?? 0;
}

/** Every op of every phase without a failed request (dropped arrivals aside). */
function expectNoErrors(result: ExecuteResult, except: string[] = []): void {
  for (const p of result.phases) {
    for (const o of p.ops) {
      const errors = Object.fromEntries(Object.entries(o.errors).filter(([cls]) => !except.includes(cls)));
      expect(errors, `${p.phase}/${o.op}`).toEqual({});
    }
  }
}

async function expectCleanedUp(ran: Ran): Promise<void> {
  expect(ran.result.status, ran.result.reason).toBe('complete');
  expect(ran.result.cleanup?.skipped).toBeUndefined();
  expect(ran.result.cleanup?.leftover).toBe(0);
  expect(await countLeftovers(client, ran.runId)).toBe(0);
}

/** For runs with keep: true, cleaned up by the test once it has looked at the server. */
async function cleanUpKept(ran: Ran): Promise<void> {
  expect(ran.result.cleanup).toMatchObject({ skipped: true, leftover: 0 });
  const res = await cleanup(client, { runId: ran.runId, finalizeNamespaces: true });
  expect(res.leftover).toBe(0);
  expect(await countLeftovers(client, ran.runId)).toBe(0);
}

function refs(ran: Ran): CrdRef[] {
  const inputs = generatorInputs(ran.plan.scenario, ran.runId);
  return Array.from({ length: inputs.crds!.crds.count }, (_, i) => crdRef(inputs.crds!, i));
}

function gvOf(ref: CrdRef) {
  return { group: ref.group, version: ref.versions[0]!, plural: ref.plural, namespaced: ref.namespaced };
}

async function bodyLength(path: string, accept = 'application/json'): Promise<number> {
  const res = await client.expectOk({ method: 'GET', path, headers: client.headers({ accept }) });
  return res.body.length;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Number of group-versions /apis lists (legacy discovery), as kubectl would fan out to. */
async function apisGroupVersions(): Promise<string[]> {
  const list = await client.getJson<{ groups: { versions: { groupVersion: string }[] }[] }>('/apis');
  return list.groups.flatMap((g) => g.versions.map((v) => v.groupVersion));
}

/** Waits until no group of an earlier (deleted) asa-bench run is still served, so discovery is stable. */
async function settleDiscovery(): Promise<string[]> {
  return until('discovery to settle', async () => {
    const a = await apisGroupVersions();
    if (a.some((gv) => gv.includes('.bench.asa.io/'))) return undefined;
    return a;
  });
}

/**
 * apiserver_request_total for one verb on the resources of one run (their groups carry the run id),
 * as `<resource>.<group> <code>` → requests. Counters of a run's groups start at zero.
 */
async function requestCounts(runId: string, verb: string): Promise<Record<string, number>> {
  const text = (await client.expectOk({ method: 'GET', path: '/metrics', headers: client.headers({ accept: 'text/plain' }) })).body.toString('utf8');
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes(`-${runId}.`)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.verb !== verb || labels.scope !== 'resource' || labels.subresource !== '') continue;
    const key = `${labels.resource}.${labels.group} ${labels.code}`;
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

const SCHEMA = '{ properties: 3, depth: 1 }';

describe('create crds', () => {
  it('waitFor: established records one create, one Established wait and one servable wait per CRD', async () => {
    const ran = await runScenario(`
version: 1
name: ops-create-established
seed: 3
generate:
  crds: { count: 5, groups: 2, schema: ${SCHEMA} }
phases:
  - { name: install, op: create, of: crds, concurrency: 3, waitFor: established }
`);
    expectNoErrors(ran.result);
    const install = phaseOf(ran.result, 'install');
    expect(install.primary).toBe('create.crds');
    expect(op(ran.result, 'install', 'create.crds')).toMatchObject({ count: 5, ok: 5 });
    expect(op(ran.result, 'install', 'crd.established')).toMatchObject({ count: 5, ok: 5 });
    expect(count(ran.result, 'install', 'crd.create-to-established')).toBe(5);
    expect(count(ran.result, 'install', 'crd.create-to-servable')).toBe(5);
    // Not asked for: no discovery wait.
    expect(op(ran.result, 'install', 'crd.create-to-discovery')).toBeUndefined();
    // The POST answers carry the created CRDs (each well over 500 bytes of schema).
    expect(op(ran.result, 'install', 'create.crds')!.bytes).toBeGreaterThan(5 * 500);
    await expectCleanedUp(ran);
  });

  it('waitFor: discovery leaves every CRD Established and listed by its group-version', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-create-discovery
seed: 4
generate:
  crds: { count: 6, groups: 2, schema: ${SCHEMA} }
phases:
  - { name: install, op: create, of: crds, concurrency: 3, waitFor: discovery }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      expect(op(ran.result, 'install', 'create.crds')).toMatchObject({ count: 6, ok: 6 });
      expect(op(ran.result, 'install', 'crd.established')).toMatchObject({ count: 6, ok: 6 });
      expect(count(ran.result, 'install', 'crd.create-to-discovery')).toBe(6);

      const crds = refs(ran);
      const groups = [...new Set(crds.map((c) => c.group))];
      expect(groups).toHaveLength(2);
      for (const group of groups) {
        const list = await client.getJson<{ groupVersion: string; resources: { name: string; kind: string; namespaced: boolean }[] }>(`/apis/${group}/v1`);
        expect(list.groupVersion).toBe(`${group}/v1`);
        const expected = crds.filter((c) => c.group === group);
        expect(list.resources.map((r) => r.name).filter((n) => !n.includes('/')).sort()).toEqual(expected.map((c) => c.plural).sort());
        for (const c of expected) expect(list.resources.find((r) => r.name === c.plural)).toMatchObject({ kind: c.kind, namespaced: true });
      }
      const labelled = await listLabelled(client, CRD_PATH, ran.runId);
      expect(labelled.map((c) => c.metadata.name).sort()).toEqual(crds.map((c) => c.name).sort());
    } finally {
      await cleanUpKept(ran);
    }
  });
});

describe('discovery', () => {
  it('legacy fan-out sends one request per group-version', async () => {
    const before = await settleDiscovery();
    const ran = await runScenario(`
version: 1
name: ops-discovery-legacy
generate:
  crds: { count: 1 }
phases:
  - { name: legacy, op: discovery, mode: legacy-fanout, repeat: 3 }
`);
    const after = await apisGroupVersions();
    expect(after).toEqual(before);
    expectNoErrors(ran.result);
    const groupVersions = before.length;
    expect(groupVersions).toBeGreaterThan(10);
    expect(op(ran.result, 'legacy', 'discovery.legacy-fanout')).toMatchObject({ count: 3, ok: 3 });
    // Fetched per iteration: /api/v1 and every group-version /apis lists.
    expect(count(ran.result, 'legacy', 'discovery.legacy.group-versions')).toBe(3 * (groupVersions + 1));
    // Timed sub-requests per iteration: /api, /apis, /api/v1, then one per group-version.
    expect(op(ran.result, 'legacy', 'discovery.legacy.request')).toMatchObject({ count: 3 * (3 + groupVersions), ok: 3 * (3 + groupVersions) });
    await expectCleanedUp(ran);
  });

  it('legacy fan-out: the iteration bytes add up to the bytes of its requests', async () => {
    await settleDiscovery();
    const ran = await runScenario(`
version: 1
name: ops-discovery-legacy-bytes
generate:
  crds: { count: 1 }
phases:
  - { name: legacy, op: discovery, mode: legacy-fanout, repeat: 2 }
`);
    expectNoErrors(ran.result);
    const requests = op(ran.result, 'legacy', 'discovery.legacy.request')!;
    const iterations = op(ran.result, 'legacy', 'discovery.legacy-fanout')!;
    expect(requests.bytes).toBeGreaterThan(10_000);
    // Each iteration = /api + /apis + /api/v1 + every group-version, each a timed sub-request.
    expect(iterations.bytes).toBe(requests.bytes);
    await expectCleanedUp(ran);
  });

  it('aggregated discovery returns APIGroupDiscoveryList documents that hold the generated groups', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-discovery-aggregated
seed: 5
generate:
  crds: { count: 3, groups: 3, schema: ${SCHEMA} }
phases:
  - { name: install, op: create, of: crds, concurrency: 3, waitFor: discovery }
  - { name: aggregated, op: discovery, mode: aggregated, repeat: 4, concurrency: 2 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      const agg = op(ran.result, 'aggregated', 'discovery.aggregated')!;
      expect(agg).toMatchObject({ count: 4, ok: 4 });
      expect(agg.bytes).toBeGreaterThan(0);

      const res = await client.expectOk({ method: 'GET', path: '/apis', headers: client.headers({ accept: AGGREGATED_DISCOVERY_ACCEPT }) });
      expect(String(res.headers['content-type'])).toContain('apidiscovery.k8s.io');
      const doc = JSON.parse(res.body.toString('utf8')) as {
        kind: string;
        apiVersion: string;
        items: { metadata: { name: string }; versions: { version: string; resources: { resource: string }[] }[] }[];
      };
      expect(doc.kind).toBe('APIGroupDiscoveryList');
      expect(doc.apiVersion).toBe('apidiscovery.k8s.io/v2');
      for (const crd of refs(ran)) {
        const group = doc.items.find((g) => g.metadata.name === crd.group);
        expect(group, crd.group).toBeDefined();
        expect(group!.versions.find((v) => v.version === 'v1')?.resources.map((r) => r.resource)).toContain(crd.plural);
      }
      // The phase fetched the same two documents (/api and /apis) each time.
      const core = await bodyLength('/api', AGGREGATED_DISCOVERY_ACCEPT);
      expect(agg.bytes).toBe(4 * (core + res.body.length));
    } finally {
      await cleanUpKept(ran);
    }
  });
});

describe('openapi', () => {
  it('v2, v3 and v3-groups fetch the documents the server publishes', async () => {
    await settleDiscovery();
    const index = await until('a stable /openapi/v3 index', async () => {
      const a = await client.getJson<{ paths: Record<string, { serverRelativeURL: string }> }>('/openapi/v3');
      if (Object.keys(a.paths).some((p) => p.includes('bench.asa.io'))) return undefined;
      return a;
    });
    const ran = await runScenario(`
version: 1
name: ops-openapi
generate:
  crds: { count: 1 }
phases:
  - { name: v2, op: openapi, version: v2, repeat: 2 }
  - { name: v3, op: openapi, version: v3, repeat: 3 }
  - { name: v3-groups, op: openapi, version: v3-groups, repeat: 2 }
`);
    expectNoErrors(ran.result);
    const paths = Object.keys(index.paths);
    expect(paths).toContain('api/v1');
    expect(paths.length).toBeGreaterThan(10);

    const v2 = op(ran.result, 'v2', 'openapi.v2')!;
    expect(v2).toMatchObject({ count: 2, ok: 2 });
    const v2Doc = await client.getJson<{ swagger: string; paths: Record<string, unknown> }>('/openapi/v2');
    expect(v2Doc.swagger).toBe('2.0');
    expect(v2.bytes).toBeGreaterThan(2 * 100_000);

    const v3 = op(ran.result, 'v3', 'openapi.v3')!;
    expect(v3).toMatchObject({ count: 3, ok: 3 });
    expect(v3.bytes).toBe(3 * (await bodyLength('/openapi/v3')));

    expect(op(ran.result, 'v3-groups', 'openapi.v3-groups')).toMatchObject({ count: 2, ok: 2 });
    const groupDocs = op(ran.result, 'v3-groups', 'openapi.v3.group-version')!;
    expect(groupDocs).toMatchObject({ count: 2 * paths.length, ok: 2 * paths.length });
    expect(groupDocs.bytes).toBeGreaterThan(2 * paths.length * 1000);
    await expectCleanedUp(ran);
  });
});

describe('list', () => {
  it('quorum, cache, paginated and all-namespaces lists return the objects the server holds', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-list
seed: 8
generate:
  crds: { count: 2, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 8, sizeBytes: 300, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: quorum, op: list, consistency: quorum, repeat: 4, concurrency: 2 }
  - { name: cache, op: list, consistency: cache, repeat: 4, concurrency: 2 }
  - { name: paged-quorum, op: list, consistency: quorum, pageSize: 3, repeat: 4, concurrency: 2 }
  - { name: paged-cache, op: list, consistency: cache, pageSize: 3, repeat: 4, concurrency: 2 }
  - { name: all, op: list, consistency: quorum, scope: all, repeat: 4, concurrency: 2 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      expect(op(ran.result, 'create', 'create.objects')).toMatchObject({ count: 16, ok: 16 });
      const crds = refs(ran);
      const namespaces = [`asa-${ran.runId}-0`, `asa-${ran.runId}-1`];
      // Independent look: each CRD holds 4 objects in each namespace.
      const itemsIn = async (crd: CrdRef, ns: string | undefined, extra: Record<string, string> = {}) =>
        (await client.getJson<{ items: { metadata: { name: string; namespace: string } }[] }>(withQuery(collectionPath(gvOf(crd), ns), extra))).items;
      for (const crd of crds) {
        for (const ns of namespaces) expect(await itemsIn(crd, ns)).toHaveLength(4);
        expect(await itemsIn(crd, undefined)).toHaveLength(8);
      }

      // Bytes of the same lists fetched independently; only resourceVersions (and continue tokens) may differ a little.
      const listBytes = async (crd: CrdRef, ns: string | undefined) => bodyLength(collectionPath(gvOf(crd), ns));
      let perNamespace = 0;
      let allNamespaces = 0;
      for (let i = 0; i < 4; i++) {
        perNamespace += await listBytes(crds[i % 2]!, namespaces[i % 2]);
        allNamespaces += await listBytes(crds[i % 2]!, undefined);
      }
      const near = (actual: number, expected: number, slack: number) => expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(slack);
      for (const phase of ['quorum', 'cache']) {
        const o = op(ran.result, phase, `list.${phase}`)!;
        expect(o).toMatchObject({ count: 4, ok: 4 });
        near(o.bytes, perNamespace, 4 * 40);
        expect(op(ran.result, phase, 'list.pages')).toBeUndefined();
      }
      expect(perNamespace).toBeGreaterThan(4 * 4 * 300);
      const all = op(ran.result, 'all', 'list.quorum')!;
      expect(all).toMatchObject({ count: 4, ok: 4 });
      near(all.bytes, allNamespaces, 4 * 40);
      expect(allNamespaces).toBeGreaterThan(1.8 * perNamespace);

      // Paginated from etcd: 4 objects per namespace at pageSize 3 → 2 pages per list.
      expect(op(ran.result, 'paged-quorum', 'list.quorum')).toMatchObject({ count: 4, ok: 4 });
      expect(count(ran.result, 'paged-quorum', 'list.pages')).toBe(8);
      // Two pages carry the same items as one unpaginated list, plus a second list envelope and a continue token.
      near(op(ran.result, 'paged-quorum', 'list.quorum')!.bytes, perNamespace, 4 * 400);
      expect(op(ran.result, 'paged-quorum', 'list.quorum')!.bytes).toBeGreaterThan(perNamespace);

      // Paginated from the watch cache: every list still complete (the pages add up to all items).
      expect(op(ran.result, 'paged-cache', 'list.cache')).toMatchObject({ count: 4, ok: 4 });
      // (v1.37 serves resourceVersion=0 from the cache in one page whatever the limit: 4 pages for 4 lists.)
      expect(count(ran.result, 'paged-cache', 'list.pages')).toBeGreaterThanOrEqual(4);
      expect(op(ran.result, 'paged-cache', 'list.cache')!.bytes).toBeGreaterThanOrEqual(perNamespace - 4 * 40);
    } finally {
      await cleanUpKept(ran);
    }
  });

  it('a label-selector list selects one shard: with labelValues 2, half of the objects', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-list-selector
seed: 9
generate:
  crds: { count: 1, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 8, sizeBytes: 300, namespaces: 1, labelValues: 2 }
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: selector, op: list, consistency: quorum, labelSelector: true, repeat: 4 }
  - { name: everything, op: list, consistency: quorum, repeat: 4 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      const crd = refs(ran)[0]!;
      const ns = `asa-${ran.runId}-0`;
      const path = collectionPath(gvOf(crd), ns);
      const items = async (selector?: string) =>
        (await client.getJson<{ items: { metadata: { labels: Record<string, string> } }[] }>(withQuery(path, { labelSelector: selector }))).items;
      const all = await items();
      expect(all).toHaveLength(8);
      let selectedBytes = 0;
      for (const shard of ['s0', 's1']) {
        const selector = `${LABEL_RUN}=${ran.runId},${LABEL_SHARD}=${shard}`;
        const selected = await items(selector);
        expect(selected).toHaveLength(4);
        for (const item of selected) expect(item.metadata.labels[LABEL_SHARD]).toBe(shard);
        // Iterations 0..3 alternate s0, s1: each shard twice.
        selectedBytes += 2 * (await bodyLength(withQuery(path, { labelSelector: selector })));
      }
      const selector = op(ran.result, 'selector', 'list.quorum')!;
      const everything = op(ran.result, 'everything', 'list.quorum')!;
      expect(selector).toMatchObject({ count: 4, ok: 4 });
      expect(Math.abs(selector.bytes - selectedBytes)).toBeLessThanOrEqual(4 * 40);
      // Half the items: a bit over half the bytes (the list envelope is paid in full).
      expect(selector.bytes / everything.bytes).toBeGreaterThan(0.45);
      expect(selector.bytes / everything.bytes).toBeLessThan(0.6);
    } finally {
      await cleanUpKept(ran);
    }
  });

  it('a label-selector list in one of several namespaces still selects a fraction of that namespace', async () => {
    // namespaces: 2 and labelValues: 2 — objects are spread over both by the same index.
    const ran = await runScenario(
      `
version: 1
name: ops-list-selector-ns
seed: 10
generate:
  crds: { count: 1, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 8, sizeBytes: 300, namespaces: 2, labelValues: 2 }
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: selector, op: list, consistency: quorum, labelSelector: true, repeat: 4 }
  - { name: everything, op: list, consistency: quorum, repeat: 4 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      const selector = op(ran.result, 'selector', 'list.quorum')!;
      const everything = op(ran.result, 'everything', 'list.quorum')!;
      expect(selector).toMatchObject({ count: 4, ok: 4 });
      // One shard of two: about half of what the unselective list of the same namespaces returns.
      expect(selector.bytes / everything.bytes).toBeLessThan(0.6);
    } finally {
      await cleanUpKept(ran);
    }
  });
});

describe('get', () => {
  it('quorum and cache reads return every base object, byte for byte', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-get
seed: 12
generate:
  crds: { count: 2, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 3, sizeBytes: 512, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 3 }
  - { name: get-quorum, op: get, consistency: quorum, repeat: 12, concurrency: 3 }
  - { name: get-cache, op: get, consistency: cache, repeat: 12, concurrency: 3 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      // Independently: every base object (2 CRDs × 3), read once each.
      const inputs = generatorInputs(ran.plan.scenario, ran.runId);
      let oneOfEach = 0;
      for (const crd of refs(ran)) {
        for (let j = 0; j < 3; j++) {
          const ref = objectRef(inputs.objects!, crd, j);
          const obj = await client.getJson<{ metadata: { name: string; namespace: string }; spec: { payload: string } }>(objectPath(gvOf(crd), ref.namespace, ref.name));
          expect(obj.metadata.name).toBe(ref.name);
          expect(obj.spec.payload.length).toBeGreaterThanOrEqual(400);
          oneOfEach += await bodyLength(objectPath(gvOf(crd), ref.namespace, ref.name));
        }
      }
      // 12 reads spread round-robin over 6 objects: each object twice.
      for (const [phase, key] of [['get-quorum', 'get.quorum'], ['get-cache', 'get.cache']] as const) {
        const o = op(ran.result, phase, key)!;
        expect(o, phase).toMatchObject({ count: 12, ok: 12 });
        expect(o.bytes, phase).toBe(2 * oneOfEach);
        expect(phaseOf(ran.result, phase).primary).toBe(key);
      }
    } finally {
      await cleanUpKept(ran);
    }
  });
});

describe('watch', () => {
  it('watchers during a patch phase see one MODIFIED event per patch of a watched CRD', async () => {
    const ran = await runScenario(`
version: 1
name: ops-watch
seed: 13
generate:
  crds: { count: 3, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 2, sizeBytes: 200, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 3, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 3 }
  - { name: patch, op: patch, of: objects, repeat: 30, concurrency: 3 }
  - { name: watch-one, op: watch, watchers: 3, during: patch }
  - { name: watch-two, op: watch, watchers: 6, during: patch }
`);
    expectNoErrors(ran.result);
    expect(op(ran.result, 'patch', 'patch.objects')).toMatchObject({ count: 30, ok: 30 });
    // The server's count: 30 PATCHes answered 200, 10 per CRD (all three watched).
    expect(await requestCounts(ran.runId, 'PATCH')).toEqual(Object.fromEntries(refs(ran).map((c) => [`${c.plural}.${c.group} 200`, 10])));
    // watchers == CRDs: every CRD watched once, every patch seen once.
    expect(op(ran.result, 'watch-one', 'watch.session')).toMatchObject({ count: 3, ok: 3 });
    expect(count(ran.result, 'watch-one', 'watch.established')).toBe(3);
    expect(count(ran.result, 'watch-one', 'watch.events.modified')).toBe(30);
    expect(count(ran.result, 'watch-one', 'watch.event-latency')).toBe(30);
    // Watches start at "now": the objects created before are not replayed as ADDED.
    expect(op(ran.result, 'watch-one', 'watch.events.added')).toBeUndefined();
    // watchers == 2 × CRDs: every CRD watched twice, every patch seen twice.
    expect(count(ran.result, 'watch-two', 'watch.events.modified')).toBe(60);
    expect(count(ran.result, 'watch-two', 'watch.event-latency')).toBe(60);
    const latency = op(ran.result, 'watch-one', 'watch.event-latency')!;
    expect(latency.latencyMs.p50).toBeGreaterThan(0);
    expect(latency.latencyMs.max).toBeLessThan(10_000);
    await expectCleanedUp(ran);
  });
});

describe('open model', () => {
  it('50/s for 2s starts about 100 gets, none dropped', async () => {
    const ran = await runScenario(`
version: 1
name: ops-open
seed: 14
generate:
  crds: { count: 1, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 2, sizeBytes: 200 }
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects }
  - { name: get, op: get, rate: 50/s, duration: 2s }
`);
    expectNoErrors(ran.result);
    const get = op(ran.result, 'get', 'get.quorum')!;
    expect(Math.abs(get.count - 100)).toBeLessThanOrEqual(2);
    expect(get.ok).toBe(get.count);
    expect(get.errors.dropped).toBeUndefined();
    expect(get.bytes).toBeGreaterThan(get.count * 200);
    const duration = phaseOf(ran.result, 'get').durationMs;
    expect(duration).toBeGreaterThan(1900);
    expect(duration).toBeLessThan(4000);
    await expectCleanedUp(ran);
  });

  it('2000/s with maxInFlight 2 for 1s drops the arrivals that find 2 in flight', async () => {
    const ran = await runScenario(`
version: 1
name: ops-open-overload
seed: 15
generate:
  crds: { count: 1, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 2, sizeBytes: 200 }
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects }
  - { name: get, op: get, rate: 2000/s, maxInFlight: 2, duration: 1s }
`);
    expectNoErrors(ran.result, ['dropped']);
    const get = op(ran.result, 'get', 'get.quorum')!;
    expect(Math.abs(get.count - 2000)).toBeLessThanOrEqual(100);
    const dropped = get.errors.dropped ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(get.ok + dropped).toBe(get.count);
    expect(get.ok).toBeGreaterThan(0);
    // Only the requests that were sent return bytes.
    expect(get.bytes).toBeGreaterThan(get.ok * 200);
    await expectCleanedUp(ran);
  });
});

describe('open model: create crds', () => {
  it('after dropped arrivals, later phases address only the CRDs that were created', async () => {
    // 200/s with one in flight: a CRD (with its Established and servable waits) takes longer than
    // the 5 ms between arrivals, so arrivals in between are dropped and the created indices have gaps.
    // (At 20/s a CRD learnt Established from the watch sometimes finished within the 50 ms gap.)
    const ran = await runScenario(
      `
version: 1
name: ops-open-create
seed: 18
generate:
  crds: { count: 6, groups: 1, schema: ${SCHEMA} }
phases:
  - { name: install, op: create, of: crds, rate: 200/s, maxInFlight: 1, repeat: 6, waitFor: established }
  - { name: list, op: list, repeat: 6 }
`,
      { keep: true },
    );
    try {
      const create = op(ran.result, 'install', 'create.crds')!;
      expect(create.count).toBe(6);
      expect(create.errors.dropped ?? 0).toBeGreaterThan(0);
      const labelled = await listLabelled(client, CRD_PATH, ran.runId);
      expect(labelled).toHaveLength(create.ok);
      // Every list targets an installed CRD: no 404 for a CRD whose arrival was dropped.
      const list = op(ran.result, 'list', 'list.quorum')!;
      expect(list.errors).toEqual({});
      expect(list).toMatchObject({ count: 6, ok: 6 });
    } finally {
      await cleanUpKept(ran);
    }
  });
});

describe('delete', () => {
  it('deletes every base object, then the CRDs, leaving nothing labelled', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-delete
seed: 16
generate:
  crds: { count: 3, groups: 2, schema: ${SCHEMA} }
  objects: { perCRD: 4, sizeBytes: 1024, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 3, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: delete-objects, op: delete, of: objects, concurrency: 4 }
  - { name: delete-crds, op: delete, of: crds, concurrency: 3 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      const objects = op(ran.result, 'delete-objects', 'delete.objects')!;
      expect(objects).toMatchObject({ count: 3 * 4, ok: 3 * 4 });
      expect(objects.bytes).toBeGreaterThan(0);
      // The server's own count: one DELETE answered 200 per object of each CRD (a 404 would also count as ok in the phase).
      const deletes = await requestCounts(ran.runId, 'DELETE');
      expect(deletes).toEqual(Object.fromEntries(refs(ran).map((c) => [`${c.plural}.${c.group} 200`, 4])));
      const crds = op(ran.result, 'delete-crds', 'delete.crds')!;
      expect(crds).toMatchObject({ count: 3, ok: 3 });
      expect(crds.bytes).toBeGreaterThan(3 * 500);
      // The CRDs go away on their own (no cleanup ran): only the namespaces stay labelled.
      await until('labelled CRDs to be gone', async () => ((await listLabelled(client, CRD_PATH, ran.runId)).length === 0 ? true : undefined));
      expect(await countLeftovers(client, ran.runId)).toBe(2);
      const res = await cleanup(client, { runId: ran.runId, finalizeNamespaces: true });
      expect(res).toMatchObject({ crds: 0, namespaces: 2, leftover: 0 });
    } finally {
      await cleanUpKept(ran);
    }
  });
});

describe('steps', () => {
  it('timed object creates at every step never reuse a name, though the number of CRDs changes', async () => {
    const ran = await runScenario(`
version: 1
name: ops-steps-extra
seed: 19
generate:
  crds: { count: 4, groups: 1, schema: ${SCHEMA} }
  objects: { perCRD: 1, sizeBytes: 64 }
steps: { by: crds, at: [2, 3, 4] }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
  - { name: more, op: create, of: objects, concurrency: 2, repeat: 9 }
`);
    expectNoErrors(ran.result);
    for (const step of [0, 1, 2]) expect(op(ran.result, 'more', 'create.objects', step)).toMatchObject({ count: 9, ok: 9, errors: {} });
    await expectCleanedUp(ran);
  });

  it('runs the phases once per level, installing only the CRDs each level adds', async () => {
    const ran = await runScenario(
      `
version: 1
name: ops-steps
seed: 17
generate:
  crds: { count: 4, groups: 2, schema: ${SCHEMA} }
steps: { by: crds, at: [2, 4] }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: list, op: list, consistency: cache, repeat: 4, concurrency: 2 }
`,
      { keep: true },
    );
    try {
      expectNoErrors(ran.result);
      expect(ran.result.phases.map((p) => [p.phase, p.step, p.level])).toEqual([
        ['install', 0, 2],
        ['list', 0, 2],
        ['install', 1, 4],
        ['list', 1, 4],
      ]);
      expect(op(ran.result, 'install', 'create.crds', 0)).toMatchObject({ count: 2, ok: 2 });
      expect(op(ran.result, 'install', 'create.crds', 1)).toMatchObject({ count: 2, ok: 2 });
      expect(op(ran.result, 'list', 'list.cache', 0)).toMatchObject({ count: 4, ok: 4 });
      expect(op(ran.result, 'list', 'list.cache', 1)).toMatchObject({ count: 4, ok: 4 });
      const labelled = await listLabelled(client, CRD_PATH, ran.runId);
      expect(labelled.map((c) => c.metadata.name).sort()).toEqual(refs(ran).map((c) => c.name).sort());
    } finally {
      await cleanUpKept(ran);
    }
  });
});
