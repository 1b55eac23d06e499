/**
 * The k6 side of an exported script: configuration from the environment,
 * request helpers and one function per operation, each mirroring what
 * src/engine/ops.ts requests (paths, query, headers, bodies). Names, labels
 * and bodies come from the real generators (src/generators), which
 * export/k6.ts bundles into the script with esbuild together with this file,
 * so the script sends what the engine sends by construction.
 *
 * It runs under k6, not Node: no Node or DOM API here or in anything it
 * imports (`npm run typecheck` checks this folder against @types/k6 alone).
 * ASA_PLAN is the plan's data, defined above the bundled code (export/k6-bundle.ts).
 */
import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import type { ObjectBatchRequest, RefinedParams, RefinedResponse } from 'k6/http';
import type { Options } from 'k6/options';
import { crdManifest, crdRef, type CrdRef, type CrdSpecInput } from '../../generators/crds.js';
import { LABEL_RUN, LABEL_SHARD, ANNOTATION_SENT_AT, namespaceName } from '../../generators/labels.js';
import { objectManifest, objectRef, type ObjectRef, type ObjectSpecInput } from '../../generators/objects.js';
import { AGGREGATED_DISCOVERY_ACCEPT, collectionPath as restCollectionPath, CRD_PATH, NAMESPACES_PATH, objectPath as restObjectPath } from '../../kube/paths.js';
import type { K6PhaseWork, K6ScriptPlan, K6Work } from './work.js';

declare const ASA_PLAN: K6ScriptPlan;
const PLAN: K6ScriptPlan = ASA_PLAN;
const GEN = PLAN.generate;
const PHASES: Record<string, K6PhaseWork> = PLAN.phases;

// ---------------------------------------------------------------------------
// Configuration from the environment
// ---------------------------------------------------------------------------
const SERVER: string = (__ENV.K8S_SERVER || '').replace(/[/]+$/, '');
if (SERVER === '') throw new Error('set K8S_SERVER to the API server URL, e.g. K8S_SERVER=https://127.0.0.1:6443');
const RUN_ID: string = __ENV.ASA_RUN_ID || PLAN.defaultRunId;
if (!/^[a-z][a-z0-9]{7}$/.test(RUN_ID)) throw new Error('ASA_RUN_ID: expected 8 lowercase letters or digits, starting with a letter');
const TOKEN: string = __ENV.K8S_TOKEN || (__ENV.K8S_TOKEN_FILE ? open(__ENV.K8S_TOKEN_FILE).trim() : '');
const BASE_HEADERS: Record<string, string> = { 'User-Agent': 'asa-bench-k6' };
if (TOKEN !== '') BASE_HEADERS['Authorization'] = 'Bearer ' + TOKEN;
// Client certificates: K8S_CLIENT_CERT and K8S_CLIENT_KEY are paths to PEM files (read with open()).
const TLS_AUTH: { cert: string; key: string }[] =
  __ENV.K8S_CLIENT_CERT && __ENV.K8S_CLIENT_KEY ? [{ cert: open(__ENV.K8S_CLIENT_CERT), key: open(__ENV.K8S_CLIENT_KEY) }] : [];

const JSON_HEADERS: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json' };
const PATCH_HEADERS: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/merge-patch+json' };
const ACCEPT_JSON: Record<string, string> = { Accept: 'application/json' };
/** Tag for requests outside any measured phase (setup, lifecycle waits, teardown). */
const UNMEASURED = 'unmeasured';

// ---------------------------------------------------------------------------
// What the generators need: the plan's inputs with this run's id
// ---------------------------------------------------------------------------
const CRDS: CrdSpecInput = { seed: GEN.seed, runId: RUN_ID, crds: GEN.crds };
const OBJECTS: ObjectSpecInput | undefined = GEN.objects === null ? undefined : { seed: GEN.seed, runId: RUN_ID, objects: GEN.objects };
const PER_CRD = GEN.objects === null ? 0 : GEN.objects.perCRD;

function objectsInput(): ObjectSpecInput {
  if (OBJECTS === undefined) throw new Error('the scenario has no generate.objects');
  return OBJECTS;
}

/** The i-th base object, round-robin over the CRDs that have objects (engine/context.ts baseObjectAt, no gaps). */
function baseObjectAt(work: K6Work, i: number): ObjectRef {
  if (work.withObjects === 0 || PER_CRD === 0) throw new Error(work.key + ': no objects exist at this point of the scenario');
  const crdIndex = i % work.withObjects;
  const j = Math.floor(i / work.withObjects) % PER_CRD;
  return objectRef(objectsInput(), crdRef(CRDS, crdIndex), j);
}

function liveCrdAt(work: K6Work, i: number): CrdRef {
  if (work.installed === 0) throw new Error(work.key + ': no CRDs are installed at this point of the scenario');
  return crdRef(CRDS, i % work.installed);
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------
function collectionPath(crd: CrdRef, namespace: string | undefined): string {
  return restCollectionPath({ group: crd.group, version: crd.versions[0]!, plural: crd.plural, namespaced: crd.namespaced }, namespace);
}

function objectPath(ref: ObjectRef): string {
  const crd = ref.crd;
  return restObjectPath({ group: crd.group, version: crd.versions[0]!, plural: crd.plural, namespaced: crd.namespaced }, ref.namespace, ref.name);
}

/** As kube/query.ts withQuery, without URLSearchParams (k6 has none). */
function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const k of Object.keys(query)) {
    const v = query[k];
    if (v !== undefined) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(v)));
  }
  return parts.length > 0 ? path + '?' + parts.join('&') : path;
}

type StatusCallback = ReturnType<typeof http.expectedStatuses>;

const DEFAULT_OK = http.expectedStatuses({ min: 200, max: 299 });
const DELETE_OK = http.expectedStatuses({ min: 200, max: 299 }, 404);
const NAMESPACE_OK = http.expectedStatuses({ min: 200, max: 299 }, 409);

function params(headers: Record<string, string>, name: string, phase: string, ok?: StatusCallback): RefinedParams<'text'> {
  const all: Record<string, string> = {};
  for (const k of Object.keys(BASE_HEADERS)) all[k] = BASE_HEADERS[k]!;
  for (const k of Object.keys(headers)) all[k] = headers[k]!;
  return { headers: all, tags: { name, phase }, responseCallback: ok === undefined ? DEFAULT_OK : ok, responseType: 'text' };
}

function send(method: string, path: string, body: string | null, headers: Record<string, string>, name: string, phase: string, ok?: StatusCallback): RefinedResponse<'text'> {
  return http.request(method, SERVER + path, body, params(headers, name, phase, ok));
}

function bodyText(res: RefinedResponse<'text'>): string {
  return typeof res.body === 'string' ? res.body : '';
}

/** metadata.continue, read from the start of a list body without parsing the items (ops.ts readContinue). */
function readContinue(res: RefinedResponse<'text'>): string | undefined {
  const m = /"continue":"([^"]*)"/.exec(bodyText(res).slice(0, 4096));
  return m && m[1] ? m[1] : undefined;
}

/** The sent-at annotation's value (engine/clock.ts epochMicros; k6 has no performance clock). */
function epochMicros(): string {
  return String(Date.now() * 1000);
}

function waitFor(ready: () => boolean): void {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    if (ready()) return;
    sleep(0.05);
  }
}

const LIFECYCLE_OK = http.expectedStatuses({ min: 200, max: 499 });

/** Not measured here (k6 has no per-CRD lifecycle metrics): waits until the CRD is Established and servable, so later phases find it. */
function awaitCrd(ref: CrdRef, waitForDiscovery: boolean): void {
  waitFor(() => {
    const r = send('GET', CRD_PATH + '/' + ref.name, null, JSON_HEADERS, 'wait.established', UNMEASURED, LIFECYCLE_OK);
    return r.status === 200 && /"type":"Established","status":"True"/.test(bodyText(r));
  });
  waitFor(() => send('GET', withQuery(collectionPath(ref, undefined), { limit: 1, resourceVersion: '0' }), null, JSON_HEADERS, 'wait.servable', UNMEASURED, LIFECYCLE_OK).status === 200);
  if (!waitForDiscovery) return;
  waitFor(() => {
    const r = send('GET', '/apis/' + ref.group + '/' + ref.versions[0], null, JSON_HEADERS, 'wait.discovery', UNMEASURED, LIFECYCLE_OK);
    return r.status === 200 && bodyText(r).indexOf('"name":"' + ref.plural + '"') >= 0;
  });
}

function createCrd(work: K6Work, phase: string, i: number): void {
  const index = work.from + i;
  const res = send('POST', CRD_PATH, JSON.stringify(crdManifest(CRDS, index)), JSON_HEADERS, work.key, phase);
  if (res.status === 201 && work.waitFor !== undefined) awaitCrd(crdRef(CRDS, index), work.waitFor === 'discovery');
}

function postObject(ref: ObjectRef, work: K6Work, phase: string): void {
  const manifest = objectManifest(objectsInput(), ref);
  const metadata = manifest['metadata'] as Record<string, unknown>;
  const annotations: Record<string, string> = {};
  annotations[ANNOTATION_SENT_AT] = epochMicros();
  metadata['annotations'] = annotations;
  send('POST', collectionPath(ref.crd, ref.namespace), JSON.stringify(manifest), JSON_HEADERS, work.key, phase);
}

function createObject(work: K6Work, phase: string, i: number): void {
  const perCrd = OBJECTS === undefined ? 1 : PER_CRD;
  postObject(objectRef(objectsInput(), crdRef(CRDS, work.from + Math.floor(i / perCrd)), i % perCrd), work, phase);
}

/** Objects beyond the base ones (timed or repeated create phases), numbered after them. */
function createExtraObject(work: K6Work, phase: string, i: number): void {
  const k = work.from + i;
  postObject(objectRef(objectsInput(), liveCrdAt(work, k), PER_CRD + Math.floor(k / work.installed)), work, phase);
}

function patchObject(work: K6Work, phase: string, i: number): void {
  const ref = baseObjectAt(work, i);
  const annotations: Record<string, string> = {};
  annotations[ANNOTATION_SENT_AT] = epochMicros();
  const body = JSON.stringify({ metadata: { annotations }, spec: { replicas: i % 1000 } });
  send('PATCH', objectPath(ref), body, PATCH_HEADERS, work.key, phase);
}

function getObject(work: K6Work, phase: string, i: number): void {
  const ref = baseObjectAt(work, i);
  const query: Record<string, string> = work.consistency === 'cache' ? { resourceVersion: '0' } : {};
  send('GET', withQuery(objectPath(ref), query), null, JSON_HEADERS, work.key, phase);
}

function listObjects(work: K6Work, phase: string, i: number): void {
  const crd = liveCrdAt(work, i);
  const namespaces = GEN.objects === null ? 0 : GEN.objects.namespaces;
  const labelValues = GEN.objects === null ? 1 : GEN.objects.labelValues;
  const namespace = work.scope === 'namespace' && namespaces > 0 ? namespaceName(RUN_ID, i % namespaces) : undefined;
  const base = collectionPath(crd, namespace);
  const selector = work.labelSelector ? LABEL_RUN + '=' + RUN_ID + ',' + LABEL_SHARD + '=s' + (i % labelValues) : undefined;
  let continueToken: string | undefined;
  do {
    // resourceVersion=0 serves from the watch cache; unset is a quorum read. Sent only on the first page.
    const path = withQuery(base, {
      limit: work.pageSize,
      continue: continueToken,
      resourceVersion: work.consistency === 'cache' && continueToken === undefined ? '0' : undefined,
      labelSelector: selector,
    });
    const res = send('GET', path, null, JSON_HEADERS, work.key, phase);
    continueToken = work.pageSize !== undefined && res.status === 200 ? readContinue(res) : undefined;
  } while (continueToken !== undefined);
}

function discoveryAggregated(work: K6Work, phase: string): void {
  const headers: Record<string, string> = { Accept: AGGREGATED_DISCOVERY_ACCEPT };
  send('GET', '/api', null, headers, work.key, phase);
  send('GET', '/apis', null, headers, work.key, phase);
}

/** A cold-cache kubectl without aggregated discovery: /api, /apis, then every group-version, in parallel. */
function discoveryLegacy(work: K6Work, phase: string): void {
  send('GET', '/api', null, JSON_HEADERS, work.key, phase);
  const apis = send('GET', '/apis', null, JSON_HEADERS, work.key, phase);
  if (apis.status !== 200) return;
  const list = JSON.parse(bodyText(apis)) as { groups: { versions: { groupVersion: string }[] }[] };
  const paths: string[] = ['/api/v1'];
  for (const g of list.groups) for (const v of g.versions) paths.push('/apis/' + v.groupVersion);
  const requests: ObjectBatchRequest[] = paths.map((p) => ({ method: 'GET', url: SERVER + p, body: null, params: params(JSON_HEADERS, work.key, phase) }));
  http.batch(requests);
}

function openapi(work: K6Work, phase: string): void {
  if (work.version === 'v2') {
    send('GET', '/openapi/v2', null, ACCEPT_JSON, work.key, phase);
    return;
  }
  const index = send('GET', '/openapi/v3', null, ACCEPT_JSON, work.key, phase);
  if (work.version !== 'v3-groups' || index.status !== 200) return;
  const doc = JSON.parse(bodyText(index)) as { paths: Record<string, { serverRelativeURL: string }> };
  for (const key of Object.keys(doc.paths)) send('GET', doc.paths[key]!.serverRelativeURL, null, ACCEPT_JSON, 'openapi.v3.group-version', phase);
}

function deleteCrd(work: K6Work, phase: string, i: number): void {
  send('DELETE', CRD_PATH + '/' + crdRef(CRDS, i).name, null, JSON_HEADERS, work.key, phase, DELETE_OK);
}

function deleteObject(work: K6Work, phase: string, i: number): void {
  send('DELETE', objectPath(baseObjectAt(work, i)), null, JSON_HEADERS, work.key, phase, DELETE_OK);
}

const RUNNERS: Record<K6Work['kind'], (work: K6Work, phase: string, i: number) => void> = {
  'create-crds': createCrd,
  'create-objects': createObject,
  'create-extra': createExtraObject,
  patch: patchObject,
  get: getObject,
  list: listObjects,
  'discovery-aggregated': discoveryAggregated,
  'discovery-legacy': discoveryLegacy,
  openapi,
  'delete-crds': deleteCrd,
  'delete-objects': deleteObject,
};

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/** Every k6 scenario runs this: the phase comes from the scenario's name, the index from the iteration. */
export function phase(): void {
  runIteration(exec.scenario.name, exec.scenario.iterationInTest);
}

/** One iteration of a k6 scenario (exported for tests and ad-hoc use). */
export function runIteration(scenario: string, i: number): void {
  const p = PHASES[scenario];
  if (p === undefined) throw new Error('no phase for k6 scenario ' + scenario);
  // A mix picks its entry by a weighted round-robin wheel, as engine/ops.ts does (scenarios/mix.ts).
  const work = p.entries[p.wheel[i % p.wheel.length]!]!;
  RUNNERS[work.kind](work, p.phase, i);
}

/** Namespaces for the objects (as the engine's ensureNamespaces); 409 (exists) is fine. */
export function setup(): void {
  if (GEN.objects === null || GEN.crds.scope !== 'Namespaced') return;
  for (let k = 0; k < GEN.objects.namespaces; k++) {
    const labels: Record<string, string> = {};
    labels[LABEL_RUN] = RUN_ID;
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespaceName(RUN_ID, k), labels } });
    send('POST', NAMESPACES_PATH, body, JSON_HEADERS, 'setup.namespace', UNMEASURED, NAMESPACE_OK);
  }
}

/** Cleanup (scenario cleanup: true): every CRD of this run by label, then the namespaces. */
export function teardown(): void {
  if (!PLAN.cleanup) return;
  send('DELETE', withQuery(CRD_PATH, { labelSelector: LABEL_RUN + '=' + RUN_ID }), null, JSON_HEADERS, 'cleanup.crds', UNMEASURED, DELETE_OK);
  if (GEN.objects === null || GEN.crds.scope !== 'Namespaced') return;
  for (let k = 0; k < GEN.objects.namespaces; k++) send('DELETE', NAMESPACES_PATH + '/' + namespaceName(RUN_ID, k), null, JSON_HEADERS, 'cleanup.namespace', UNMEASURED, DELETE_OK);
}

export const options: Options = {
  // startTime offsets are estimates (see the header): k6 cannot start a scenario when the previous one ends.
  scenarios: PLAN.scenarios as Options['scenarios'],
  thresholds: PLAN.thresholds,
  insecureSkipTLSVerify: __ENV.K8S_INSECURE === '1',
  tlsAuth: TLS_AUTH,
  // The legacy discovery fan-out runs 10 group-versions in parallel, as the engine does.
  batch: 10,
  batchPerHost: 10,
  setupTimeout: '300s',
  teardownTimeout: '300s',
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'p(99.9)', 'max'],
};
