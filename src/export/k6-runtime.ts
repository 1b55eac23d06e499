/**
 * The part of an exported k6 script that does not depend on the scenario:
 * configuration from the environment, a port of the generators (random.ts,
 * crds.ts, objects.ts, labels.ts), request helpers and one function per
 * operation, each mirroring what src/engine/ops.ts requests (paths, query,
 * headers, bodies). It is TypeScript for k6 (no Node, no DOM): test/export
 * type-checks it against @types/k6 and runs it under Node with fake k6 modules.
 *
 * Written with String.raw and without template literals or backslash escapes
 * inside, so the text is copied into the script as is.
 */
export const K6_RUNTIME = String.raw`
// ---------------------------------------------------------------------------
// Configuration from the environment
// ---------------------------------------------------------------------------
const SERVER: string = (__ENV.K8S_SERVER || '').replace(/[/]+$/, '');
if (SERVER === '') throw new Error('set K8S_SERVER to the API server URL, e.g. K8S_SERVER=https://127.0.0.1:6443');
const RUN_ID: string = __ENV.ASA_RUN_ID || DEFAULT_RUN_ID;
if (!/^[a-z][a-z0-9]{7}$/.test(RUN_ID)) throw new Error('ASA_RUN_ID: expected 8 lowercase letters or digits, starting with a letter');
const TOKEN: string = __ENV.K8S_TOKEN || (__ENV.K8S_TOKEN_FILE ? open(__ENV.K8S_TOKEN_FILE).trim() : '');
const BASE_HEADERS: Record<string, string> = { 'User-Agent': 'asa-bench-k6' };
if (TOKEN !== '') BASE_HEADERS['Authorization'] = 'Bearer ' + TOKEN;
// Client certificates: K8S_CLIENT_CERT and K8S_CLIENT_KEY are paths to PEM files (read with open()).
const TLS_AUTH: { cert: string; key: string }[] =
  __ENV.K8S_CLIENT_CERT && __ENV.K8S_CLIENT_KEY ? [{ cert: open(__ENV.K8S_CLIENT_CERT), key: open(__ENV.K8S_CLIENT_KEY) }] : [];

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const NAMESPACES_PATH = '/api/v1/namespaces';
const LABEL_RUN = 'asa-bench.io/run';
const LABEL_SHARD = 'asa-bench.io/shard';
const ANNOTATION_SENT_AT = 'asa-bench.io/sent-at-us';
const BENCH_DOMAIN = 'bench.asa.io';
const AGGREGATED_DISCOVERY_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const JSON_HEADERS: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json' };
const PATCH_HEADERS: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/merge-patch+json' };
const ACCEPT_JSON: Record<string, string> = { Accept: 'application/json' };
/** Tag for requests outside any measured phase (setup, lifecycle waits, teardown). */
const UNMEASURED = 'unmeasured';

// ---------------------------------------------------------------------------
// Generators: a port of src/generators (same seed, same names and bodies)
// ---------------------------------------------------------------------------
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string, index: number) {
    let s = (Math.imul(seed | 0, 0x9e3779b9) ^ fnv1a(stream) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  int(n: number): number {
    return Math.floor((this.uint32() / 0x100000000) * n);
  }

  pick<T>(items: T[]): T {
    return items[this.int(items.length)];
  }

  text(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const out: string[] = [];
    for (let i = 0; i < length; i++) out.push(alphabet[this.int(36)]);
    return out.join('');
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function labelsFor(index: number, shards: number): Record<string, string> {
  const labels: Record<string, string> = {};
  labels[LABEL_RUN] = RUN_ID;
  labels[LABEL_SHARD] = 's' + (index % shards);
  return labels;
}

function namespaceName(index: number): string {
  return 'asa-' + RUN_ID + '-' + index;
}

interface CrdRef {
  index: number;
  name: string;
  group: string;
  version: string;
  versions: string[];
  kind: string;
  plural: string;
  namespaced: boolean;
}

function crdRef(index: number): CrdRef {
  const group = 'g' + pad(index % GEN.crds.groups, 4) + '-' + RUN_ID + '.' + BENCH_DOMAIN;
  const kind = 'Bench' + pad(index, 5);
  const plural = 'bench' + pad(index, 5) + 's';
  const versions: string[] = [];
  for (let v = 0; v < GEN.crds.versions; v++) versions.push(v === 0 ? 'v1' : 'v1beta' + v);
  return { index, name: plural + '.' + group, group, version: versions[0], versions, kind, plural, namespaced: GEN.crds.scope === 'Namespaced' };
}

type JsonSchema = { [key: string]: unknown };

function schemaProperty(random: Random, depth: number, j: number): JsonSchema {
  const shape = GEN.crds.schema;
  const kinds: string[] = ['string', 'integer', 'boolean'];
  if (shape.enums) kinds.push('enum');
  if (depth > 0) kinds.push('object');
  if (depth > 0 && shape.arrays) kinds.push('array');
  const kind = random.pick(kinds);
  if (kind === 'string') return { type: 'string', maxLength: 256, description: 'generated field ' + j };
  if (kind === 'integer') return { type: 'integer', minimum: 0, maximum: 1000000 };
  if (kind === 'boolean') return { type: 'boolean' };
  if (kind === 'enum') return { type: 'string', enum: ['Alpha', 'Beta', 'Gamma', 'Delta'].slice(0, 2 + random.int(3)) };
  const properties: Record<string, JsonSchema> = {};
  if (kind === 'object') {
    const n = 2 + random.int(4);
    for (let k = 0; k < n; k++) properties['n' + k] = schemaProperty(random, depth - 1, k);
    return { type: 'object', properties };
  }
  for (let k = 0; k < 3; k++) properties['i' + k] = schemaProperty(random, Math.max(0, depth - 2), k);
  return { type: 'array', maxItems: 16, items: { type: 'object', properties } };
}

function specSchema(random: Random): JsonSchema {
  const shape = GEN.crds.schema;
  const properties: Record<string, JsonSchema> = {
    payload: { type: 'string', maxLength: 2000000, description: 'Filler sized by objects.sizeBytes.' },
    replicas: { type: 'integer', minimum: 0, maximum: 1000000 },
  };
  for (let j = 0; j < shape.properties; j++) properties['f' + j] = schemaProperty(random, shape.depth, j);
  const rules: { rule: string; message: string }[] = [];
  for (let r = 0; r < shape.validationRules; r++) {
    rules.push(
      r === 0
        ? { rule: '!has(self.replicas) || self.replicas <= 1000000', message: 'replicas out of range' }
        : { rule: '!has(self.payload) || size(self.payload) >= ' + (r - 1), message: 'payload shorter than ' + (r - 1) },
    );
  }
  const schema: JsonSchema = { type: 'object', properties };
  if (rules.length > 0) schema['x-kubernetes-validations'] = rules;
  return schema;
}

function crdManifest(index: number): JsonSchema {
  const ref = crdRef(index);
  const random = new Random(GEN.seed, 'crd', index);
  const schema = specSchema(random);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: ref.name, labels: labelsFor(index, 4) },
    spec: {
      group: ref.group,
      scope: GEN.crds.scope,
      names: { kind: ref.kind, listKind: ref.kind + 'List', plural: ref.plural, singular: ref.plural.slice(0, -1) },
      versions: ref.versions.map((name, v) => ({
        name,
        served: true,
        storage: v === 0,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: { spec: schema, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        },
      })),
    },
  };
}

interface ObjectRef {
  crd: CrdRef;
  index: number;
  name: string;
  namespace: string | undefined;
}

function objectRef(crd: CrdRef, index: number): ObjectRef {
  const objects = GEN.objects;
  return {
    crd,
    index,
    name: 'obj-' + pad(index, 6),
    namespace: crd.namespaced && objects !== null ? namespaceName(index % objects.namespaces) : undefined,
  };
}

function objectManifest(ref: ObjectRef): JsonSchema {
  const objects = GEN.objects;
  if (objects === null) throw new Error('the scenario has no generate.objects');
  const random = new Random(GEN.seed, 'obj-' + ref.crd.index, ref.index);
  const metadata: Record<string, unknown> = {
    name: ref.name,
    labels: labelsFor(Math.floor(ref.index / objects.namespaces), objects.labelValues),
  };
  if (ref.namespace !== undefined) metadata['namespace'] = ref.namespace;
  return {
    apiVersion: ref.crd.group + '/' + ref.crd.version,
    kind: ref.crd.kind,
    metadata,
    spec: { replicas: random.int(100), payload: random.text(objects.sizeBytes) },
  };
}

/** The i-th base object, round-robin over the CRDs that have objects (engine/context.ts baseObjectAt, no gaps). */
function baseObjectAt(work: Work, i: number): ObjectRef {
  const perCrd = GEN.objects === null ? 0 : GEN.objects.perCRD;
  if (work.withObjects === 0 || perCrd === 0) throw new Error(work.key + ': no objects exist at this point of the scenario');
  const crdIndex = i % work.withObjects;
  const j = Math.floor(i / work.withObjects) % perCrd;
  return objectRef(crdRef(crdIndex), j);
}

function liveCrdAt(work: Work, i: number): CrdRef {
  if (work.installed === 0) throw new Error(work.key + ': no CRDs are installed at this point of the scenario');
  return crdRef(i % work.installed);
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------
function collectionPath(crd: CrdRef, namespace: string | undefined): string {
  const base = '/apis/' + crd.group + '/' + crd.version;
  return crd.namespaced && namespace !== undefined ? base + '/namespaces/' + namespace + '/' + crd.plural : base + '/' + crd.plural;
}

function objectPath(ref: ObjectRef): string {
  return collectionPath(ref.crd, ref.namespace) + '/' + encodeURIComponent(ref.name);
}

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
  for (const k of Object.keys(BASE_HEADERS)) all[k] = BASE_HEADERS[k];
  for (const k of Object.keys(headers)) all[k] = headers[k];
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

function epochMicros(): string {
  return String(Date.now() * 1000);
}

function createCrd(work: Work, phase: string, i: number): void {
  const index = work.from + i;
  const res = send('POST', CRD_PATH, JSON.stringify(crdManifest(index)), JSON_HEADERS, work.key, phase);
  if (res.status !== 201 || work.waitFor === undefined) return;
  // Not measured here (k6 has no per-CRD lifecycle metrics): wait until the CRD is Established
  // and its resource servable, so the phases after this one find it.
  const ref = crdRef(index);
  waitFor(function (): boolean {
    const r = send('GET', CRD_PATH + '/' + ref.name, null, JSON_HEADERS, 'wait.established', UNMEASURED, http.expectedStatuses({ min: 200, max: 499 }));
    return r.status === 200 && /"type":"Established","status":"True"/.test(bodyText(r));
  });
  waitFor(function (): boolean {
    const path = withQuery(collectionPath(ref, undefined), { limit: 1, resourceVersion: '0' });
    return send('GET', path, null, JSON_HEADERS, 'wait.servable', UNMEASURED, http.expectedStatuses({ min: 200, max: 499 })).status === 200;
  });
  if (work.waitFor === 'discovery') {
    waitFor(function (): boolean {
      const r = send('GET', '/apis/' + ref.group + '/' + ref.version, null, JSON_HEADERS, 'wait.discovery', UNMEASURED, http.expectedStatuses({ min: 200, max: 499 }));
      return r.status === 200 && bodyText(r).indexOf('"name":"' + ref.plural + '"') >= 0;
    });
  }
}

function waitFor(ready: () => boolean): void {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    if (ready()) return;
    sleep(0.05);
  }
}

function postObject(ref: ObjectRef, work: Work, phase: string): void {
  const manifest = objectManifest(ref);
  const metadata = manifest['metadata'] as Record<string, unknown>;
  const annotations: Record<string, string> = {};
  annotations[ANNOTATION_SENT_AT] = epochMicros();
  metadata['annotations'] = annotations;
  send('POST', collectionPath(ref.crd, ref.namespace), JSON.stringify(manifest), JSON_HEADERS, work.key, phase);
}

function createObject(work: Work, phase: string, i: number): void {
  const perCrd = GEN.objects === null ? 1 : GEN.objects.perCRD;
  postObject(objectRef(crdRef(work.from + Math.floor(i / perCrd)), i % perCrd), work, phase);
}

/** Objects beyond the base ones (timed or repeated create phases), numbered after them. */
function createExtraObject(work: Work, phase: string, i: number): void {
  const perCrd = GEN.objects === null ? 0 : GEN.objects.perCRD;
  const k = work.from + i;
  postObject(objectRef(liveCrdAt(work, k), perCrd + Math.floor(k / work.installed)), work, phase);
}

function patchObject(work: Work, phase: string, i: number): void {
  const ref = baseObjectAt(work, i);
  const annotations: Record<string, string> = {};
  annotations[ANNOTATION_SENT_AT] = epochMicros();
  const body = JSON.stringify({ metadata: { annotations }, spec: { replicas: i % 1000 } });
  send('PATCH', objectPath(ref), body, PATCH_HEADERS, work.key, phase);
}

function getObject(work: Work, phase: string, i: number): void {
  const ref = baseObjectAt(work, i);
  const query: Record<string, string> = work.consistency === 'cache' ? { resourceVersion: '0' } : {};
  send('GET', withQuery(objectPath(ref), query), null, JSON_HEADERS, work.key, phase);
}

function listObjects(work: Work, phase: string, i: number): void {
  const crd = liveCrdAt(work, i);
  const namespaces = GEN.objects === null ? 0 : GEN.objects.namespaces;
  const labelValues = GEN.objects === null ? 1 : GEN.objects.labelValues;
  const namespace = work.scope === 'namespace' && namespaces > 0 ? namespaceName(i % namespaces) : undefined;
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

function discoveryAggregated(work: Work, phase: string): void {
  const headers: Record<string, string> = { Accept: AGGREGATED_DISCOVERY_ACCEPT };
  send('GET', '/api', null, headers, work.key, phase);
  send('GET', '/apis', null, headers, work.key, phase);
}

/** A cold-cache kubectl without aggregated discovery: /api, /apis, then every group-version, in parallel. */
function discoveryLegacy(work: Work, phase: string): void {
  send('GET', '/api', null, JSON_HEADERS, work.key, phase);
  const apis = send('GET', '/apis', null, JSON_HEADERS, work.key, phase);
  if (apis.status !== 200) return;
  const list = JSON.parse(bodyText(apis)) as { groups: { versions: { groupVersion: string }[] }[] };
  const paths: string[] = ['/api/v1'];
  for (const g of list.groups) for (const v of g.versions) paths.push('/apis/' + v.groupVersion);
  const requests: ObjectBatchRequest[] = paths.map((p) => ({ method: 'GET', url: SERVER + p, body: null, params: params(JSON_HEADERS, work.key, phase) }));
  http.batch(requests);
}

function openapi(work: Work, phase: string): void {
  if (work.version === 'v2') {
    send('GET', '/openapi/v2', null, ACCEPT_JSON, work.key, phase);
    return;
  }
  const index = send('GET', '/openapi/v3', null, ACCEPT_JSON, work.key, phase);
  if (work.version !== 'v3-groups' || index.status !== 200) return;
  const doc = JSON.parse(bodyText(index)) as { paths: Record<string, { serverRelativeURL: string }> };
  for (const key of Object.keys(doc.paths)) send('GET', doc.paths[key].serverRelativeURL, null, ACCEPT_JSON, 'openapi.v3.group-version', phase);
}

function deleteCrd(work: Work, phase: string, i: number): void {
  send('DELETE', CRD_PATH + '/' + crdRef(i).name, null, JSON_HEADERS, work.key, phase, DELETE_OK);
}

function deleteObject(work: Work, phase: string, i: number): void {
  send('DELETE', objectPath(baseObjectAt(work, i)), null, JSON_HEADERS, work.key, phase, DELETE_OK);
}

function runWork(work: Work, phase: string, i: number): void {
  switch (work.kind) {
    case 'create-crds':
      return createCrd(work, phase, i);
    case 'create-objects':
      return createObject(work, phase, i);
    case 'create-extra':
      return createExtraObject(work, phase, i);
    case 'patch':
      return patchObject(work, phase, i);
    case 'get':
      return getObject(work, phase, i);
    case 'list':
      return listObjects(work, phase, i);
    case 'discovery-aggregated':
      return discoveryAggregated(work, phase);
    case 'discovery-legacy':
      return discoveryLegacy(work, phase);
    case 'openapi':
      return openapi(work, phase);
    case 'delete-crds':
      return deleteCrd(work, phase, i);
    case 'delete-objects':
      return deleteObject(work, phase, i);
  }
}

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
  // A mix picks its entry by a weighted round-robin wheel, as engine/ops.ts mixOperation does.
  runWork(p.entries[p.wheel[i % p.wheel.length]], p.phase, i);
}

/** Namespaces for the objects (as the engine's ensureNamespaces); 409 (exists) is fine. */
export function setup(): void {
  if (GEN.objects === null || GEN.crds.scope !== 'Namespaced') return;
  for (let k = 0; k < GEN.objects.namespaces; k++) {
    const labels: Record<string, string> = {};
    labels[LABEL_RUN] = RUN_ID;
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespaceName(k), labels } });
    send('POST', NAMESPACES_PATH, body, JSON_HEADERS, 'setup.namespace', UNMEASURED, NAMESPACE_OK);
  }
}

/** Cleanup (scenario cleanup: true): every CRD of this run by label, then the namespaces. */
export function teardown(): void {
  if (!CLEANUP) return;
  send('DELETE', withQuery(CRD_PATH, { labelSelector: LABEL_RUN + '=' + RUN_ID }), null, JSON_HEADERS, 'cleanup.crds', UNMEASURED, DELETE_OK);
  if (GEN.objects === null || GEN.crds.scope !== 'Namespaced') return;
  for (let k = 0; k < GEN.objects.namespaces; k++) send('DELETE', NAMESPACES_PATH + '/' + namespaceName(k), null, JSON_HEADERS, 'cleanup.namespace', UNMEASURED, DELETE_OK);
}
`;
