/**
 * Operations that speak API server. Each phase kind compiles to an Operation:
 * a key for its histogram, the number of iterations it needs (when the
 * generators define it), and one iteration function. Paths and headers are
 * built here, once per phase; per iteration only a name or index changes.
 */
import { crdManifest } from '../generators/crds.js';
import { objectManifest, objectNamespaces, objectRef } from '../generators/objects.js';
import { ANNOTATION_SENT_AT, LABEL_RUN, LABEL_SHARD } from '../generators/labels.js';
import { JSON_HEADERS, RequestError } from '../kube/client.js';
import { AGGREGATED_DISCOVERY_ACCEPT, collectionPath, CRD_PATH, NAMESPACES_PATH, objectPath } from '../kube/paths.js';
import { withQuery } from '../kube/query.js';
import { classifyError, classifyStatus } from '../kube/errors.js';
import { weightedWheel } from '../scenarios/mix.js';
import type { PlannedPhase, PlannedStep } from '../scenarios/plan.js';
import type { PhaseDoc } from '../scenarios/schema.js';
import { RunFailedError } from '../types/errors.js';
import { baseObjectAt, baseObjectCount, crdAt, liveCrdAt, liveCrdCount, type EngineContext, type OpContext } from './context.js';
import { epochMicros } from './clock.js';
import type { IterationOutcome } from './load-models.js';
import type { Operation } from './operation.js';
import { Stages } from './in-flight.js';
import { watchOperation } from './watch.js';

/** Retry-After is honoured up to this many times per iteration, each wait capped. */
const MAX_THROTTLE_RETRIES = 3;
const MAX_RETRY_AFTER_S = 10;

/**
 * Runs one request and turns its result into an outcome; never throws for HTTP
 * or transport failures. With `honorRetryAfter`, a 429 waits as the server says
 * and tries again (counted as `throttled.retried`); the latency then includes the wait.
 */
async function attemptWith(ctx: OpContext, fn: () => Promise<number | Received>): Promise<IterationOutcome> {
  for (let tries = 0; ; tries++) {
    try {
      const got = await fn();
      return typeof got === 'number' ? { bytes: got } : got;
    } catch (err) {
      if (err instanceof RequestError) {
        if (err.status === 429 && ctx.honorRetryAfter && tries < MAX_THROTTLE_RETRIES) {
          ctx.recorder.count('throttled.retried');
          await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_AFTER_S, Math.max(0, err.retryAfterSeconds ?? 1)) * 1000));
          continue;
        }
        return { error: err.errorClass, message: err.message };
      }
      if ((err as Error).name === 'AbortError') return { error: 'cancelled', message: (err as Error).message };
      throw err;
    }
  }
}

/** Bytes an iteration received and when its last response was complete (IterationOutcome.endedAt). */
interface Received {
  bytes: number;
  endedAt: number | undefined;
}

/** Records one sub-request (e.g. a page or a group-version) under its own key. */
async function timed(ctx: OpContext, key: string, fn: () => Promise<number>): Promise<number> {
  const start = performance.now();
  try {
    const bytes = await fn();
    ctx.recorder.record(key, (performance.now() - start) * 1000, undefined, bytes);
    return bytes;
  } catch (err) {
    ctx.recorder.record(key, (performance.now() - start) * 1000, err instanceof RequestError ? err.errorClass : classifyError(err));
    throw err;
  }
}

type DocOf<K extends PhaseDoc['op']> = Extract<PhaseDoc, { op: K }>;

export function buildOperation(ctx: OpContext, phase: PlannedPhase, step: PlannedStep, hostSignal?: AbortSignal): Operation {
  const doc = phase.doc;
  switch (doc.op) {
    case 'create':
      return doc.of === 'crds' ? createCrds(ctx, phase, step) : createObjects(ctx, phase);
    case 'patch':
      requireObjects(ctx, phase);
      return patchObjects(ctx);
    case 'delete':
      return doc.of === 'crds' ? deleteCrds(ctx) : deleteObjects(ctx);
    case 'get':
      requireObjects(ctx, phase);
      return getObjects(ctx, doc);
    case 'list':
      if (liveCrdCount(ctx) === 0) throw new RunFailedError(`phase ${phase.name}: nothing to list: no CRDs are installed at step ${step.index}`);
      return listObjects(ctx, doc);
    case 'discovery':
      return doc.mode === 'aggregated' ? aggregatedDiscovery(ctx) : legacyDiscovery(ctx);
    case 'openapi':
      return openapi(ctx, doc);
    case 'watch':
      return watchOperation(ctx, phase, hostSignal);
    case 'mix':
      return mixOperation(ctx, phase, step);
  }
}

function patchObjects(ctx: OpContext): Operation {
  const { client } = ctx;
  const headers = client.headers({ accept: 'application/json', 'content-type': 'application/merge-patch+json' });
  return {
    key: 'patch.objects',
    iteration: (i, signal) =>
      attemptWith(ctx, async () => {
        const ref = baseObjectAt(ctx, i)!;
        const body = JSON.stringify({ metadata: { annotations: { [ANNOTATION_SENT_AT]: String(epochMicros()) } }, spec: { replicas: i % 1000 } });
        const res = await client.expectOk({ method: 'PATCH', path: objectPath(gv(ref.crd), ref.namespace, ref.name), headers, body, signal, read: 'count' });
        return { bytes: res.bytes, endedAt: res.receivedAt };
      }),
  };
}

function getObjects(ctx: OpContext, doc: DocOf<'get'>): Operation {
  const { client } = ctx;
  const headers = client.headers(JSON_HEADERS);
  const query = doc.consistency === 'cache' ? { resourceVersion: '0' } : {};
  return {
    key: `get.${doc.consistency}`,
    iteration: (i, signal) =>
      attemptWith(ctx, async () => {
        const ref = baseObjectAt(ctx, i)!;
        const res = await client.expectOk({ method: 'GET', path: withQuery(objectPath(gv(ref.crd), ref.namespace, ref.name), query), headers, signal, read: 'count' });
        return { bytes: res.bytes, endedAt: res.receivedAt };
      }),
  };
}

function listObjects(ctx: OpContext, doc: DocOf<'list'>): Operation {
  const { client } = ctx;
  const headers = client.headers(JSON_HEADERS);
  const namespaces = ctx.objects ? objectNamespaces(ctx.objects) : [];
  const labelValues = ctx.objects?.objects.labelValues ?? 1;
  return {
    key: `list.${doc.consistency}`,
    iteration: (i, signal) =>
      attemptWith(ctx, async () => {
        const crd = liveCrdAt(ctx, i);
        const namespace = doc.scope === 'namespace' ? namespaces[i % Math.max(1, namespaces.length)] : undefined;
        const base = collectionPath(gv(crd), namespace);
        const selector = doc.labelSelector ? `${LABEL_RUN}=${ctx.runId},${LABEL_SHARD}=s${i % labelValues}` : undefined;
        let bytes = 0;
        let endedAt: number | undefined;
        let continueToken: string | undefined;
        let pages = 0;
        do {
          // resourceVersion=0 serves from the watch cache; unset is a quorum read from etcd.
          // With a continue token the server ignores resourceVersion, so it is sent only on the first page.
          const path = withQuery(base, {
            limit: doc.pageSize,
            continue: continueToken,
            resourceVersion: doc.consistency === 'cache' && continueToken === undefined ? '0' : undefined,
            labelSelector: selector,
          });
          // Counted, not held: only the head (metadata.continue) is kept.
          const res = await client.expectOk({ method: 'GET', path, headers, signal, read: 'count' });
          bytes += res.bytes;
          endedAt = res.receivedAt;
          pages++;
          continueToken = doc.pageSize ? readContinue(res.body) : undefined;
        } while (continueToken);
        if (doc.pageSize) ctx.recorder.count('list.pages', pages);
        return { bytes, endedAt };
      }),
  };
}

function aggregatedDiscovery(ctx: OpContext): Operation {
  const { client } = ctx;
  const headers = client.headers({ accept: AGGREGATED_DISCOVERY_ACCEPT });
  return {
    key: 'discovery.aggregated',
    iteration: (_i, signal) =>
      attemptWith(ctx, async () => {
        // Aggregated discovery: two documents hold every group, version and resource
        // (one without a core API: RunInfo.skipped says so).
        const core = ctx.coreApi ? (await client.expectOk({ method: 'GET', path: '/api', headers, signal, read: 'count' })).bytes : 0;
        const groups = await client.expectOk({ method: 'GET', path: '/apis', headers, signal, read: 'count' });
        return { bytes: core + groups.bytes, endedAt: groups.receivedAt };
      }),
  };
}

function legacyDiscovery(ctx: OpContext): Operation {
  const { client } = ctx;
  const headers = client.headers(JSON_HEADERS);
  const request = (path: string, signal: AbortSignal) => timed(ctx, 'discovery.legacy.request', async () => (await client.expectOk({ method: 'GET', path, headers, signal, read: 'count' })).bytes);
  return {
    key: 'discovery.legacy-fanout',
    iteration: (_i, signal) =>
      attemptWith(ctx, async () => {
        // What a cold-cache kubectl does without aggregated discovery: /api, /apis, then every group-version.
        let bytes = ctx.coreApi ? await request('/api', signal) : 0;
        let apis!: Awaited<ReturnType<typeof client.expectOk>>;
        bytes += await timed(ctx, 'discovery.legacy.request', async () => {
          apis = await client.expectOk({ method: 'GET', path: '/apis', headers, signal });
          return apis.bytes;
        });
        const list = JSON.parse(apis.body.toString('utf8')) as { groups: { versions: { groupVersion: string }[] }[] };
        const paths = [...(ctx.coreApi ? ['/api/v1'] : []), ...list.groups.flatMap((g) => g.versions.map((v) => `/apis/${v.groupVersion}`))];
        let next = 0;
        // The fan-out is parallel, as kubectl's discovery client is.
        const worker = async () => {
          while (next < paths.length) {
            // Not `bytes += await ...`: that reads `bytes` before the await and loses the other workers' bytes.
            const received = await request(paths[next++]!, signal);
            bytes += received;
          }
        };
        await Promise.all(Array.from({ length: Math.min(10, paths.length) }, worker));
        ctx.recorder.count('discovery.legacy.group-versions', paths.length);
        return bytes;
      }),
  };
}

function openapi(ctx: OpContext, doc: DocOf<'openapi'>): Operation {
  const { client } = ctx;
  const headers = client.headers({ accept: 'application/json' });
  if (doc.version === 'v2') {
    return {
      key: 'openapi.v2',
      iteration: (_i, signal) => attemptWith(ctx, async () => (await client.expectOk({ method: 'GET', path: '/openapi/v2', headers, signal, read: 'count' })).bytes),
    };
  }
  return {
    key: `openapi.${doc.version}`,
    iteration: (_i, signal) =>
      attemptWith(ctx, async () => {
        const index = await client.expectOk({ method: 'GET', path: '/openapi/v3', headers, signal, read: doc.version === 'v3' ? 'count' : 'body' });
        if (doc.version === 'v3') return index.bytes;
        const paths = JSON.parse(index.body.toString('utf8')) as { paths: Record<string, { serverRelativeURL: string }> };
        let bytes = index.bytes;
        for (const entry of Object.values(paths.paths)) {
          bytes += await timed(ctx, 'openapi.v3.group-version', async () => (await client.expectOk({ method: 'GET', path: entry.serverRelativeURL, headers, signal, read: 'count' })).bytes);
        }
        return bytes;
      }),
  };
}

/**
 * A weighted mix: each iteration picks one entry by weight and runs that
 * entry's operation, recorded under the entry's own key (`get.cache`,
 * `list.quorum`, ...); the phase key `mix` measures every iteration.
 * The pick is a deterministic interleave (a weighted round-robin wheel), so
 * shares hold exactly over any window of `sum(weights)` iterations.
 */
function mixOperation(ctx: OpContext, phase: PlannedPhase, step: PlannedStep): Operation {
  const doc = phase.doc as Extract<PlannedPhase['doc'], { op: 'mix' }>;
  const entries = doc.mix.map((entry, k) => {
    // Entries inherit the mix's limits (a create entry then numbers its objects after the existing ones).
    const sub: PlannedPhase = { ...phase, name: `${phase.name}-${k}`, doc: { ...entry, name: `${phase.name}-${k}` } as PlannedPhase['doc'], companions: [], repeat: phase.repeat ?? (phase.durationMs === undefined ? 1 : undefined) };
    return { weight: entry.weight, operation: buildOperation(ctx, sub, step) };
  });
  const wheel = weightedWheel(entries.map((e) => e.weight));
  return {
    key: 'mix',
    before: async () => {
      for (const e of entries) await e.operation.before?.();
    },
    iteration: async (i, signal) => {
      const entry = entries[wheel[i % wheel.length]!]!;
      const start = performance.now();
      const outcome = await entry.operation.iteration(i, signal);
      ctx.recorder.record(entry.operation.key, (performance.now() - start) * 1000, outcome.error as never, outcome.bytes);
      return outcome;
    },
    after: (iterations) => {
      // Entries index their objects by the mix's iteration number, so each sees the full count.
      for (const e of entries) e.operation.after?.(iterations);
    },
  };
}

function gv(crd: { group: string; versions: string[]; plural: string; namespaced: boolean }) {
  return { group: crd.group, version: crd.versions[0]!, plural: crd.plural, namespaced: crd.namespaced };
}

function requireObjects(ctx: OpContext, phase: PlannedPhase): void {
  if (baseObjectCount(ctx) === 0) throw new RunFailedError(`phase ${phase.name}: no objects exist yet; put a \`create of: objects\` phase before it`);
}

/** Reads `metadata.continue` without parsing the items: it sits near the start of a list body. */
export function readContinue(body: Buffer): string | undefined {
  const head = body.subarray(0, 4096).toString('utf8');
  const m = /"continue":"([^"]*)"/.exec(head);
  return m && m[1] ? m[1] : undefined;
}

/** Progress while a new CRD's first object is pending: what the wait probably is. */
const FIRST_OBJECT_STAGE = 'first objects of new CRDs (the CRD handler holds a create within 2 s of Established)';

function createCrds(ctx: OpContext, phase: PlannedPhase, step: PlannedStep): Operation {
  const attempt = (fn: () => Promise<number>) => attemptWith(ctx, fn);
  const doc = phase.doc as Extract<PlannedPhase['doc'], { op: 'create' }>;
  const from = ctx.state.installed;
  const total = Math.max(0, step.crds - from);
  const headers = ctx.client.headers(JSON_HEADERS);
  const stages = new Stages();
  return {
    key: 'create.crds',
    total,
    waiting: () => stages.snapshot(),
    // One watch on the run's CRDs tells Established; it must be open before the first create.
    ...(doc.waitFor !== undefined ? { before: () => ctx.crdWatch!.start() } : {}),
    iteration: (i, signal) =>
      attempt(async () => {
        const manifest = crdManifest(ctx.crds, from + i);
        const ref = crdAt(ctx, from + i);
        const res = await ctx.client.expectOk({ method: 'POST', path: CRD_PATH, headers, body: JSON.stringify(manifest), signal, read: 'count' }).catch((err: unknown) => {
          ctx.state.crdPostsFailed++;
          throw err;
        });
        const acked = performance.now();
        if (doc.waitFor !== undefined) {
          // The watch may have seen the condition before the POST's response was read: then 0.
          const establishedAt = await stages.during('waiting for Established', () => ctx.crdWatch!.wait(ref.name, signal, LIFECYCLE_TIMEOUT_MS)).catch((err: unknown) => {
            if (err instanceof RequestError) ctx.recorder.record('crd.established', (performance.now() - acked) * 1000, err.errorClass);
            throw err;
          });
          const latencyUs = Math.max(0, establishedAt - acked) * 1000;
          ctx.recorder.record('crd.established', latencyUs);
          ctx.recorder.record('crd.create-to-established', latencyUs);
        }
        if (doc.waitFor !== undefined) {
          await stages.during('waiting until servable', () => waitServable(ctx, ref, signal));
          ctx.recorder.record('crd.create-to-servable', (performance.now() - acked) * 1000);
        }
        if (doc.waitFor === 'discovery') {
          await stages.during('waiting for discovery', () => waitDiscoverable(ctx, ref.group, ref.versions[0]!, ref.plural, signal));
          ctx.recorder.record('crd.create-to-discovery', (performance.now() - acked) * 1000);
        }
        return res.bytes;
      }),
    failed: (i) => ctx.state.missingCrds.add(from + i),
    after: (iterations) => {
      ctx.state.installed = from + iterations;
    },
  };
}

/**
 * Established is not yet servable: until the new resource's watch cache has
 * initialized, reads answer 429 "storage is (re)initializing" with a
 * Retry-After (KEP-4568, https://github.com/kubernetes/enhancements/issues/4568).
 * A cache read with limit=1 tells when the resource is really ready.
 */
async function waitServable(ctx: OpContext, ref: ReturnType<typeof crdAt>, signal: AbortSignal): Promise<void> {
  const path = withQuery(collectionPath(gv(ref), undefined), { limit: 1, resourceVersion: '0' });
  const headers = ctx.client.headers(JSON_HEADERS);
  const deadline = performance.now() + LIFECYCLE_TIMEOUT_MS;
  for (let tries = 0; performance.now() < deadline && !signal.aborted; tries++) {
    const res = await ctx.client.send({ method: 'GET', path, headers, signal });
    if (res.status === 200) return;
    if (res.status !== 429) throw new RequestError(`${path}: HTTP ${res.status}`, classifyStatus(res.status)!, res.status);
    await new Promise((r) => setTimeout(r, pollDelayMs(tries)));
  }
  throw new RequestError(`${ref.name} not servable within ${LIFECYCLE_TIMEOUT_MS / 1000}s`, 'timeout');
}

/**
 * How long a new CRD may take to become Established, servable or discoverable.
 * Installs at a rate (open model) queue in the server when it falls behind, and
 * the wait then includes that queue (up to 4 minutes measured at 10/s on a busy
 * 2-core machine): 10 minutes before it counts as a timeout.
 */
const LIFECYCLE_TIMEOUT_MS = 600_000;

/**
 * Readiness polls back off (20 ms doubling to 500 ms): a fast server answers
 * within the first tries, and a slow one is not asked 20 times a second per
 * CRD in flight. The latency error is at most the last delay.
 */
export function pollDelayMs(tries: number): number {
  return Math.min(500, 20 * 2 ** tries);
}

async function waitDiscoverable(ctx: OpContext, group: string, version: string, plural: string, signal: AbortSignal): Promise<void> {
  const headers = ctx.client.headers(JSON_HEADERS);
  const deadline = performance.now() + LIFECYCLE_TIMEOUT_MS;
  for (let tries = 0; performance.now() < deadline && !signal.aborted; tries++) {
    const res = await ctx.client.send({ method: 'GET', path: `/apis/${group}/${version}`, headers, signal });
    if (res.status === 200 && res.body.includes(`"name":"${plural}"`)) return;
    await new Promise((r) => setTimeout(r, pollDelayMs(tries)));
  }
  throw new RequestError(`${plural}.${group} not in discovery within ${LIFECYCLE_TIMEOUT_MS / 1000}s`, 'timeout');
}

export async function ensureNamespaces(ctx: EngineContext): Promise<void> {
  if (ctx.state.namespacesReady || !ctx.objects || !ctx.crds.crds.scope || ctx.crds.crds.scope !== 'Namespaced') return;
  // Without a core API there are no Namespace objects; custom objects take any namespace name.
  if (!ctx.coreApi) return;
  for (const name of objectNamespaces(ctx.objects)) {
    const create = () =>
      ctx.client.send({
        method: 'POST',
        path: NAMESPACES_PATH,
        headers: ctx.client.headers(JSON_HEADERS),
        body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [LABEL_RUN]: ctx.runId } } }),
      });
    let res = await create();
    // Setup is not measured: a throttled server gets asked again, as any client would.
    for (let tries = 0; res.status === 429 && tries < 50; tries++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await create();
    }
    if (res.status !== 201 && res.status !== 409) {
      throw new RequestError(`creating namespace ${name}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`, classifyStatus(res.status)!, res.status);
    }
  }
  ctx.state.namespacesReady = true;
}

function createObjects(ctx: OpContext, phase: PlannedPhase): Operation {
  const attempt = (fn: () => Promise<number>) => attemptWith(ctx, fn);
  const objects = ctx.objects!;
  const perCrd = objects.objects.perCRD;
  const headers = ctx.client.headers(JSON_HEADERS);
  const timedPhase = phase.repeat !== undefined || phase.durationMs !== undefined;
  const installed = ctx.state.installed;
  const from = ctx.state.withObjects;
  const extraFrom = ctx.state.extraObjects;
  const post = async (manifest: Record<string, unknown>, ref: ReturnType<typeof objectRef>, signal: AbortSignal) => {
    const metadata = manifest.metadata as { annotations?: Record<string, string> };
    metadata.annotations = { [ANNOTATION_SENT_AT]: String(epochMicros()) };
    const res = await ctx.client.expectOk({ method: 'POST', path: collectionPath(gv(ref.crd), ref.namespace), headers, body: JSON.stringify(manifest), signal, read: 'count' });
    return res.bytes;
  };
  if (installed === 0) throw new RunFailedError(`phase ${phase.name}: no CRDs are installed to create objects of`);
  if (!timedPhase) {
    // Base objects: perCRD for every installed CRD that has none yet.
    const stages = new Stages();
    return {
      key: 'create.objects',
      total: (installed - from) * perCrd,
      waiting: () => stages.snapshot(),
      before: () => ensureNamespaces(ctx),
      iteration: (i, signal) =>
        attempt(async () => {
          const ref = objectRef(objects, crdAt(ctx, from + Math.floor(i / perCrd)), i % perCrd);
          if (ref.index !== 0) return post(objectManifest(objects, ref), ref, signal);
          // The first object of a new resource is kept apart as a lifecycle latency: the CRD
          // handler deliberately sleeps 2 s on a create within 2 s of the Established
          // condition's lastTransitionTime (1 s granularity), so that every API server of an
          // HA setup serves the new type (apiextensions-apiserver customresource_handler.go,
          // `justCreated`). How long after that lastTransitionTime it was sent tells the sleep
          // (under 2 s) from cost. Wall clocks: exact on the local control plane, off by the
          // clock skew on a remote one.
          const established = ctx.crdWatch?.establishedSince(ref.crd.name);
          if (established !== undefined) ctx.recorder.record('crd.first-object.since-established', Math.max(0, Date.now() - established) * 1000);
          return stages.during(FIRST_OBJECT_STAGE, () => timed(ctx, 'crd.first-object', () => post(objectManifest(objects, ref), ref, signal)));
        }),
      failed: (i) => ctx.state.missingObjects.add(`${from + Math.floor(i / perCrd)}/${i % perCrd}`),
      after: (iterations) => {
        ctx.state.withObjects = from + Math.ceil(iterations / Math.max(1, perCrd));
      },
    };
  }
  // Extra objects for a timed or repeated phase: spread round-robin over the live CRDs and
  // numbered per CRD after its base objects, so names never collide — also across steps,
  // where the number of CRDs (and so the round-robin) changes.
  return {
    key: 'create.objects',
    before: () => ensureNamespaces(ctx),
    iteration: (i, signal) =>
      attempt(async () => {
        const crd = liveCrdAt(ctx, extraFrom + i);
        const next = ctx.state.extraPerCrd.get(crd.index) ?? 0;
        ctx.state.extraPerCrd.set(crd.index, next + 1);
        const ref = objectRef(objects, crd, perCrd + next);
        return post(objectManifest(objects, ref), ref, signal);
      }),
    after: (iterations) => {
      ctx.state.extraObjects = extraFrom + iterations;
    },
  };
}

/** DELETE that counts 404 (already gone, e.g. a retried delete) as done; returns bytes received. */
async function deleteGone(ctx: OpContext, path: string, headers: Record<string, string>, signal: AbortSignal): Promise<number> {
  const res = await ctx.client.send({ method: 'DELETE', path, headers, signal, read: 'count' });
  const cls = res.status === 404 ? undefined : classifyStatus(res.status);
  if (cls) throw new RequestError(`DELETE ${path}: HTTP ${res.status}`, cls, res.status);
  return res.bytes;
}

function deleteObjects(ctx: OpContext): Operation {
  const attempt = (fn: () => Promise<number>) => attemptWith(ctx, fn);
  const total = baseObjectCount(ctx);
  const headers = ctx.client.headers(JSON_HEADERS);
  return {
    key: 'delete.objects',
    total,
    iteration: (i, signal) =>
      attempt(async () => {
        const ref = baseObjectAt(ctx, i)!;
        return deleteGone(ctx, objectPath(gv(ref.crd), ref.namespace, ref.name), headers, signal);
      }),
    after: () => {
      ctx.state.withObjects = 0;
      ctx.state.missingObjects.clear();
    },
  };
}

function deleteCrds(ctx: OpContext): Operation {
  const attempt = (fn: () => Promise<number>) => attemptWith(ctx, fn);
  const total = ctx.state.installed;
  const headers = ctx.client.headers(JSON_HEADERS);
  return {
    key: 'delete.crds',
    total,
    iteration: (i, signal) =>
      attempt(async () => {
        const ref = crdAt(ctx, i);
        return deleteGone(ctx, `${CRD_PATH}/${ref.name}`, headers, signal);
      }),
    after: () => {
      ctx.state.installed = 0;
      ctx.state.withObjects = 0;
      ctx.state.extraObjects = 0;
      ctx.state.extraPerCrd.clear();
      ctx.state.missingCrds.clear();
      ctx.state.crdPostsFailed = 0;
      ctx.state.missingObjects.clear();
    },
  };
}
