/**
 * `asa-bench distribute` against the real kube-apiserver of the test setup,
 * and the k6-operator TestRun of `asa-bench export k6` against the real
 * k6-operator CRD.
 *
 * What this control plane cannot do, and so what is NOT covered here: it has
 * no kube-controller-manager, scheduler or kubelet. The Job is stored but the
 * Job controller never creates its pods, nothing schedules or runs them, no
 * container log exists (pods/log answers an empty log), and the garbage
 * collector and namespace controller do not run. So the path "Job controller
 * → pod runs the image → distribute reads the result from its log" is not
 * exercised end to end, and neither is the Dockerfile (no Docker here).
 *
 * What is covered, for real:
 * - every generated manifest passes a server-side dry run (validation,
 *   defaulting, admission), and the dry run stores nothing;
 * - the objects are created as `distribute` creates them, with the spec it
 *   means (the server keeps backoffLimitPerIndex), waiting for the Job times
 *   out with a clear error since no pod ever appears, a pod whose status says
 *   ImagePullBackOff (written by the test, as a kubelet would) stops the wait,
 *   and teardown deletes everything (the namespace stays Terminating without
 *   a namespace controller; the test then finalizes it as that controller would);
 * - the ClusterRole is enough for the engine and no more: SubjectAccessReviews
 *   for the ServiceAccount, and three `distribute-worker` runs (shards 1..3 of
 *   smoke, JOB_COMPLETION_INDEX set) authenticated AS that ServiceAccount
 *   (a TokenRequest token in a service-account folder laid out as the kubelet
 *   mounts it, read through the in-cluster kubeconfig the worker builds), whose
 *   stdout+stderr, decoded like a pod log, merge into the counts of the whole
 *   scenario (as test/integration/shards.test.ts asserts for `run --shard`);
 * - the k6-operator TestRun and ConfigMap written by `export k6` for every
 *   shipped scenario pass a server-side dry run with the operator's real CRD
 *   installed, without any field pruned.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { finishDistributed } from '../../src/cli/distribute.js';
import { describeError } from '../../src/cli/errors.js';
import { exportCommand } from '../../src/cli/export.js';
import { main } from '../../src/cli/main.js';
import { Output } from '../../src/cli/output.js';
import { ClusterApi, refOf } from '../../src/distribute/cluster.js';
import { decodeShardResult } from '../../src/distribute/encode.js';
import { buildManifests, DISTRIBUTE_LABEL, ownedByNamespace, type DistributeManifests, type KubeObject } from '../../src/distribute/manifests.js';
import { collectShardResults, createResources, CreatedResources, teardown, waitForJob, type CollectedShard, type PodCannotStartError } from '../../src/distribute/orchestrate.js';
import { SERVICE_ACCOUNT_DIR, writeInClusterKubeconfig } from '../../src/distribute/worker.js';
import { LABEL_RUN } from '../../src/generators/labels.js';
import { newRunId } from '../../src/generators/run-id.js';
import { JSON_HEADERS, KubeClient, RequestError } from '../../src/kube/client.js';
import { CRD_PATH, NAMESPACES_PATH } from '../../src/kube/paths.js';
import { withQuery } from '../../src/kube/query.js';
import { connectionFromKubeconfig, type Connection } from '../../src/kube/target.js';
import { decodeHistogram } from '../../src/metrics/histogram.js';
import { loadScenarioFile, type LoadedScenario } from '../../src/scenarios/parse.js';
import { sloFacts } from '../../src/scenarios/plan.js';
import { RunFailedError } from '../../src/types/errors.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { ROOT } from '../helpers/cli.js';

const SMOKE = path.join(ROOT, 'scenarios/smoke.yaml');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'asa-distribute-'));
let connection: Connection;
let admin: KubeClient;
let api: ClusterApi;
let smoke: LoadedScenario;

beforeAll(async () => {
  connection = await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true });
  admin = new KubeClient(connection, { connections: 8 });
  api = new ClusterApi(admin);
  smoke = await loadScenarioFile(SMOKE);
});

afterAll(async () => {
  await admin?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const quiet = () => new Output({ write: () => true } as unknown as NodeJS.WritableStream, { write: () => true } as unknown as NodeJS.WritableStream, true);

/** What the namespace controller would do once a namespace is empty; this control plane has none. */
async function finalizeNamespace(name: string): Promise<void> {
  const res = await admin.send({
    method: 'PUT',
    path: `${NAMESPACES_PATH}/${name}/finalize`,
    headers: admin.headers(JSON_HEADERS),
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers: [] } }),
  });
  if (res.status !== 200 && res.status !== 404) throw new Error(`finalize ${name}: HTTP ${res.status}`);
}

async function removeNamespace(name: string): Promise<void> {
  await api.delete({ apiVersion: 'v1', kind: 'Namespace', name });
  await finalizeNamespace(name);
}

function manifestsFor(workers = 3): DistributeManifests {
  const id = newRunId();
  return buildManifests({
    id,
    scenarioText: smoke.text,
    doc: smoke.doc,
    workers,
    image: 'registry.example/asa-bench:test',
    namespace: `asa-bench-${id}`,
    createNamespace: true,
    timeoutSeconds: 900,
    workerFlags: ['--connections', '8'],
  });
}

type Json = Record<string, any>;

describe('distribute on a real kube-apiserver', () => {
  it('every generated manifest passes a server-side dry run, which stores nothing', async () => {
    const m = manifestsFor();
    const nsRef = refOf(m.namespace!);
    const dryNamespace = await api.create(m.namespace!, { dryRun: true });
    expect(dryNamespace.metadata.name).toBe(m.names.namespace);
    expect(await api.get(nsRef)).toBeUndefined();

    // Namespaced objects are admitted only into an existing namespace (NamespaceLifecycle), dry run or not.
    const namespace = await api.create(m.namespace!);
    try {
      for (const manifest of m.all.filter((o) => o.kind !== 'Namespace')) {
        const object = manifest.metadata.namespace ? manifest : ownedByNamespace(manifest, namespace);
        const answer = await api.create<Json & KubeObject>(object, { dryRun: true });
        expect(answer.kind, manifest.kind).toBe(manifest.kind);
        expect(answer.metadata.name).toBe(manifest.metadata.name);
        expect(await api.get(refOf(manifest)), `${manifest.kind} was stored by a dry run`).toBeUndefined();
        if (manifest.kind === 'Job') {
          // Defaulted and validated by the server, and what distribute relies on is kept.
          expect(answer.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimitPerIndex: 0, activeDeadlineSeconds: 900 });
          expect(answer.spec.template.spec).toMatchObject({ restartPolicy: 'Never', serviceAccountName: m.names.serviceAccount, terminationGracePeriodSeconds: 120 });
          expect(answer.spec.template.spec.containers[0].args).toEqual((manifest as Json).spec.template.spec.containers[0].args);
        }
        if (manifest.kind === 'ClusterRole') {
          expect(answer.rules).toEqual((manifest as Json).rules);
          expect(answer.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Namespace', uid: namespace.metadata.uid });
        }
      }
      // The dry run validates for real: a Job pod template may not restart Always.
      const bad = structuredClone(m.job) as Json;
      bad.spec.template.spec.restartPolicy = 'Always';
      const refused = await api.create(bad as KubeObject, { dryRun: true }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RequestError);
      expect((refused as RequestError).status).toBe(422);
    } finally {
      await removeNamespace(m.names.namespace);
    }
  });

  describe('created for real', () => {
    let m: DistributeManifests;
    let created: CreatedResources | undefined;
    const progress: string[] = [];
    const hooks = { progress: (line: string) => progress.push(line) };

    beforeAll(() => {
      m = manifestsFor();
    });
    /** The objects the first test created (the later tests use them). */
    const made = (): CreatedResources => {
      if (!created) throw new Error('the first test did not create the objects');
      return created;
    };

    afterAll(async () => {
      // Leave nothing behind even when a test above failed half-way.
      if (created) await teardown(api, created, { ...hooks, podStopTimeoutMs: 1000, pollMs: 100 });
      await finalizeNamespace(m.names.namespace);
    });

    it('creates every object with the spec distribute means', async () => {
      created = new CreatedResources(m);
      await createResources(api, created, hooks);
      expect(created.objects.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job']);
      expect(created.namespaceCreated).toBe(true);
      const namespace = await api.get(refOf(m.namespace!));
      const job = (await api.get<Json & KubeObject>(refOf(m.job)))!;
      expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimitPerIndex: 0, backoffLimit: 3 });
      expect(job.spec.template.spec.volumes).toContainEqual({ name: 'scenario', configMap: { name: m.names.configMap, defaultMode: 420 } });
      // No kube-controller-manager here: the Job stays without status counters or pods.
      expect(job.status?.active ?? 0).toBe(0);
      const configMap = (await api.get<Json & KubeObject>(refOf(m.configMap)))!;
      expect(configMap.data['scenario.yaml']).toBe(smoke.text);
      const binding = (await api.get<Json & KubeObject>(refOf(m.clusterRoleBinding)))!;
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: m.names.serviceAccount, namespace: m.names.namespace }]);
      const role = (await api.get<Json & KubeObject>(refOf(m.clusterRole)))!;
      expect(role.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Namespace', name: m.names.namespace, uid: namespace!.metadata.uid })]);
      expect(role.metadata.labels?.[DISTRIBUTE_LABEL]).toBe(m.job.metadata.labels?.[DISTRIBUTE_LABEL]);
      expect(progress.filter((l) => l.startsWith('created '))).toHaveLength(6);
    });

    it('waiting for the Job times out clearly (no pod ever runs here), and no shard has a pod to read', async () => {
      const err = await waitForJob(api, made(), { workers: 3, timeoutMs: 1500, pollMs: 200, progress: hooks.progress }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunFailedError);
      expect((err as Error).message).toMatch(/^timed out after 2 s waiting for Job .*: 0\/3 shards succeeded, 0 failed, 0 running \(0 ready\); pods: no pods yet$/);
      expect(progress).toContain('0/3 shards succeeded, 0 failed, 0 running (0 ready); pods: no pods yet');
      const collected = await collectShardResults(api, made(), 3, hooks);
      expect(collected.map((c) => c.problem)).toEqual([1, 2, 3].map((i) => `no pod ran shard ${i}/3 (completion index ${i - 1})`));
    });

    it('a worker pod that cannot pull its image stops the wait; its (empty, no kubelet) log holds no result', async () => {
      // Written here as the Job controller and a kubelet would: a pod of index 0, then its status.
      const podRef = { apiVersion: 'v1', kind: 'Pod', namespace: m.names.namespace, name: `${m.names.job}-0-test` };
      const template = (m.job as Json).spec.template;
      await api.create({
        ...podRef,
        metadata: { name: podRef.name, namespace: podRef.namespace, labels: template.metadata.labels, annotations: { 'batch.kubernetes.io/job-completion-index': '0' } },
        spec: template.spec,
      } as KubeObject);
      try {
        await admin.expectOk({
          method: 'PATCH',
          path: `${NAMESPACES_PATH}/${podRef.namespace}/pods/${podRef.name}/status`,
          headers: admin.headers({ accept: 'application/json', 'content-type': 'application/merge-patch+json' }),
          body: JSON.stringify({
            status: {
              phase: 'Pending',
              containerStatuses: [{ name: 'worker', image: 'registry.example/asa-bench:test', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example/asa-bench:test"' } } }],
            },
          }),
        });
        const err = await waitForJob(api, made(), { workers: 3, timeoutMs: 60_000, pollMs: 200, progress: hooks.progress }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RunFailedError);
        expect((err as RunFailedError).message).toBe(`pod ${podRef.name} cannot start: ImagePullBackOff: Back-off pulling image "registry.example/asa-bench:test"`);
        expect((err as PodCannotStartError).image).toBe(true);
        expect(describeError(err as PodCannotStartError).hint).toMatch(/--image/);
        expect(progress.at(-1)).toMatch(/pods: 1 ImagePullBackOff$/);
        const collected = await collectShardResults(api, made(), 3, hooks);
        expect(collected[0]).toMatchObject({ pod: podRef.name, podState: 'ImagePullBackOff' });
        // The API server answers an empty log for a pod no kubelet runs.
        expect(collected[0]!.problem).toBe(`pod ${podRef.name}: no shard result in the log (no BEGIN ASA-BENCH SHARD RESULT line): the worker ended before printing it`);
        expect(collected[1]!.problem).toBe('no pod ran shard 2/3 (completion index 1)');
      } finally {
        // Never bound to a node, so the API server deletes it at once.
        await api.delete(podRef);
      }
      expect(await api.get(podRef)).toBeUndefined();
    });

    it('the ClusterRole lets the ServiceAccount do what the engine does, and no more', async () => {
      const ns = m.names.namespace;
      const user = `system:serviceaccount:${ns}:${m.names.serviceAccount}`;
      const groups = ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
      const allowed = async (attributes: Json) => {
        const review = await admin.sendJson<Json>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user, groups, ...attributes },
        });
        return review.status.allowed === true;
      };
      const res = (verb: string, group: string, resource: string, namespace?: string) => ({ resourceAttributes: { verb, group, resource, ...(namespace ? { namespace } : {}) } });
      const url = (p: string) => ({ nonResourceAttributes: { verb: 'get', path: p } });
      const group = 'g0001-rabcdefg.bench.asa.io';
      for (const attributes of [
        res('create', 'apiextensions.k8s.io', 'customresourcedefinitions'),
        res('get', 'apiextensions.k8s.io', 'customresourcedefinitions'),
        res('list', 'apiextensions.k8s.io', 'customresourcedefinitions'),
        res('delete', 'apiextensions.k8s.io', 'customresourcedefinitions'),
        res('create', '', 'namespaces'),
        res('list', '', 'namespaces'),
        res('delete', '', 'namespaces'),
        ...['create', 'get', 'list', 'watch', 'patch', 'delete'].map((v) => res(v, group, 'bench00006s', 'asa-rabcdefg-1')),
        res('list', group, 'bench00000s'),
        url('/metrics'),
        url('/version'),
        url('/openapi/v2'),
        url('/openapi/v3/apis/g0001-rabcdefg.bench.asa.io/v1'),
        url('/apis/g0001-rabcdefg.bench.asa.io/v1'),
        url('/api/v1'),
      ]) {
        expect(await allowed(attributes), JSON.stringify(attributes)).toBe(true);
      }
      for (const attributes of [
        // smoke over 3 shards: at most 7 CRDs each, bench00000s … bench00006s.
        res('get', group, 'bench00007s', 'asa-rabcdefg-1'),
        res('get', '', 'secrets', 'kube-system'),
        res('create', '', 'pods', ns),
        res('update', '', 'namespaces/finalize'),
        res('update', 'apiextensions.k8s.io', 'customresourcedefinitions'),
        res('delete', 'rbac.authorization.k8s.io', 'clusterroles'),
        res('create', 'rbac.authorization.k8s.io', 'clusterrolebindings'),
        res('deletecollection', group, 'bench00001s', 'asa-rabcdefg-1'),
        url('/debug/pprof/profile'),
      ]) {
        expect(await allowed(attributes), JSON.stringify(attributes)).toBe(false);
      }
    });

    it('three shards of smoke, run by distribute-worker AS the ServiceAccount, decode and merge to the whole scenario', { timeout: 600_000 }, async () => {
      // A service-account folder as the kubelet mounts it, with a token the API server issued for the SA.
      const tokenRequest = await admin.sendJson<Json>('POST', `/api/v1/namespaces/${m.names.namespace}/serviceaccounts/${m.names.serviceAccount}/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      });
      const root = path.join(tmp, 'pod-root');
      const saDir = path.join(root, SERVICE_ACCOUNT_DIR);
      mkdirSync(saDir, { recursive: true });
      writeFileSync(path.join(saDir, 'token'), tokenRequest.status.token as string);
      writeFileSync(path.join(saDir, 'ca.crt'), connection.tls.ca!);
      writeFileSync(path.join(saDir, 'namespace'), m.names.namespace);
      const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, index: process.env.JOB_COMPLETION_INDEX };
      process.env.KUBERNETES_SERVICE_HOST = connection.server.hostname;
      process.env.KUBERNETES_SERVICE_PORT = connection.server.port;
      // The workers delete their object namespaces at the end; the namespace controller that would
      // then remove them is missing here, so the test finalizes them as it would.
      let finalizing = true;
      const namespaceController = (async () => {
        while (finalizing) {
          const list = await admin.getJson<{ items: KubeObject[] }>(withQuery(NAMESPACES_PATH, { labelSelector: LABEL_RUN }));
          for (const ns of list.items) if (ns.metadata.deletionTimestamp) await finalizeNamespace(ns.metadata.name);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();

      const collected: CollectedShard[] = [];
      try {
        const kubeconfig = await writeInClusterKubeconfig(path.join(tmp, 'in-cluster'), { root });
        for (let k = 0; k < 3; k++) {
          process.env.JOB_COMPLETION_INDEX = String(k);
          let stdout = '';
          let stderr = '';
          const out = new Output({ write: (s: string) => ((stdout += s), true) } as NodeJS.WritableStream, { write: (s: string) => ((stderr += s), true) } as NodeJS.WritableStream);
          const code = await main(['distribute-worker', SMOKE, '--count', '3', '--kubeconfig', kubeconfig, '--connections', '8', '--out', path.join(tmp, `worker-${k}`)], out);
          expect(code, stderr).toBe(0);
          expect(stderr).not.toMatch(/forbidden|HTTP 403|scrape failed|internal error/i);
          // stdout holds the result block and nothing else; a pod's log is both streams.
          expect(stdout.trimEnd().split('\n')[0]).toMatch(new RegExp(`^=====BEGIN ASA-BENCH SHARD RESULT v1 shard=${k + 1}/3 `));
          const result = decodeShardResult(`${stderr}${stdout}`, { source: `worker ${k}`, expected: { index: k + 1, count: 3 } });
          collected.push({ shard: result.shard, pod: `in-process-${k}`, result });
        }
      } finally {
        finalizing = false;
        await namespaceController;
        for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port], ['JOB_COMPLETION_INDEX', saved.index]] as const) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }

      const shardRuns = collected.map((c) => JSON.parse(c.result!.files['run.json']!) as RunInfo);
      shardRuns.forEach((run, k) => {
        expect(run.shard).toEqual({ index: k + 1, count: 3 });
        expect(run.status).toBe('complete');
        expect(run.cleanup?.leftover).toBe(0);
        // It went through the in-cluster kubeconfig, as the ServiceAccount.
        expect(run.target).toMatchObject({ context: 'inClusterContext', local: false, server: connection.server.origin });
      });
      // The workers cleaned up after themselves with the ServiceAccount's rights.
      const ids = shardRuns.map((r) => r.runId).join(',');
      expect((await admin.getJson<{ items: unknown[] }>(withQuery(CRD_PATH, { labelSelector: `${LABEL_RUN} in (${ids})` }))).items).toEqual([]);

      const merged = path.join(tmp, 'merged');
      const code = await finishDistributed(collected, merged, sloFacts(smoke.doc.slo ?? {}), quiet());
      // 0, or 1 when an SLO of smoke is missed on this shared machine: both are finished runs.
      expect([0, 1]).toContain(code);
      expect(readdirSync(merged).sort()).toEqual(expect.arrayContaining(['run.json', 'summary.json', 'intervals.csv', 'report.md', 'report.html', 'shard-1', 'shard-2', 'shard-3']));
      const run = JSON.parse(readFileSync(path.join(merged, 'run.json'), 'utf8')) as RunInfo;
      const summary = JSON.parse(readFileSync(path.join(merged, 'summary.json'), 'utf8')) as RunSummary;
      expect(run.status).toBe('complete');
      expect(run.shards?.map((s) => s.index)).toEqual([1, 2, 3]);

      // The request counts of the whole scenario (those shards.test.ts checks against an unsharded run).
      const counts = new Map<string, number>();
      for (const p of summary.phases) for (const o of p.ops) counts.set(`${p.step}/${p.phase}/${o.op}`, o.count);
      expect(Object.fromEntries(counts)).toMatchObject({
        '0/install/create.crds': 20,
        '0/install/crd.established': 20,
        '0/create/create.objects': 100,
        '0/list-quorum/list.quorum': 40,
        '0/list-cache/list.cache': 40,
        '0/get/get.quorum': 100,
        '0/patch/patch.objects': 100,
        '0/watch/watch.session': 10,
        '0/discovery/discovery.aggregated': 10,
        '0/discovery-legacy/discovery.legacy-fanout': 2,
      });
      for (const p of summary.phases) {
        expect(p.crds, p.phase).toBe(20);
        for (const o of p.ops) {
          // The ServiceAccount was allowed everything it asked for.
          expect(o.errors[`http-403`], `${p.phase}/${o.op}`).toBeUndefined();
          const shardTotal = collected
            .map((c) => JSON.parse(c.result!.files['summary.json']!) as RunSummary)
            .flatMap((s) => s.phases.filter((q) => q.step === p.step && q.phase === p.phase))
            .flatMap((q) => q.ops.filter((x) => x.op === o.op))
            .reduce((a, x) => a + decodeHistogram(x.histogram).totalCount, 0);
          expect(decodeHistogram(o.histogram).totalCount, `${p.phase}/${o.op}`).toBe(shardTotal);
        }
      }
      // The intervals of all three shards, on one time axis, with a shard column.
      const intervals = readFileSync(path.join(merged, 'intervals.csv'), 'utf8').trim().split('\n');
      expect(intervals[0]).toMatch(/,shard$/);
      expect(new Set(intervals.slice(1).map((l) => l.split(',').at(-1)))).toEqual(new Set(['1/3', '2/3', '3/3']));
    });

    it('teardown deletes everything it created; only the namespace waits for a namespace controller', async () => {
      const removed = await teardown(api, made(), { ...hooks, podStopTimeoutMs: 1000, pollMs: 100 });
      expect(removed.leftover).toEqual([]);
      expect(removed.deleted.map((d) => d.split(' ')[0]).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job', 'ServiceAccount']);
      // Without kube-controller-manager the namespace stays Terminating; a real cluster removes it.
      expect(removed.terminating).toEqual([`Namespace ${m.names.namespace}`]);
      for (const ref of made().objects.filter((o) => o.kind !== 'Namespace')) expect(await api.get(ref), ref.kind).toBeUndefined();
      const selector = withQuery('/apis/rbac.authorization.k8s.io/v1/clusterroles', { labelSelector: m.selector });
      expect((await admin.getJson<{ items: unknown[] }>(selector)).items).toEqual([]);
      await finalizeNamespace(m.names.namespace);
      expect(await api.get(refOf(m.namespace!))).toBeUndefined();
      made().objects.length = 0;
    });
  });
});

describe('k6-operator TestRun from `export k6`, with the real k6-operator CRD', () => {
  const CRD_FILE = path.join(ROOT, 'test/fixtures/k6-operator/k6.io_testruns.yaml');
  const namespace = `asa-k6-${newRunId()}`;

  beforeAll(async () => {
    const crd = parse(readFileSync(CRD_FILE, 'utf8')) as KubeObject;
    await admin.sendJson('POST', CRD_PATH, crd);
    for (let i = 0; ; i++) {
      const got = await admin.getJson<Json>(`${CRD_PATH}/testruns.k6.io`);
      if (got.status?.conditions?.some((c: Json) => c.type === 'Established' && c.status === 'True')) break;
      if (i > 100) throw new Error('testruns.k6.io not Established');
      await new Promise((r) => setTimeout(r, 100));
    }
    await admin.sendJson('POST', NAMESPACES_PATH, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  });

  afterAll(async () => {
    await removeNamespace(namespace).catch(() => {});
    await admin.send({ method: 'DELETE', path: `${CRD_PATH}/testruns.k6.io`, headers: admin.headers(JSON_HEADERS) });
  });

  /** POST with ?dryRun=All to the TestRun collection the CRD serves; retried while its storage initializes (429). */
  async function dryRunTestRun(testRun: Json): Promise<{ status: number; body: Json }> {
    for (let attempt = 0; ; attempt++) {
      const res = await admin.send({
        method: 'POST',
        path: withQuery(`/apis/k6.io/v1alpha1/namespaces/${namespace}/testruns`, { dryRun: 'All' }),
        headers: admin.headers(JSON_HEADERS),
        body: JSON.stringify(testRun),
      });
      if (res.status === 429 && attempt < 50) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as Json };
    }
  }

  it('the TestRun and ConfigMap of every shipped scenario pass a server-side dry run, no field pruned', async () => {
    const scenarios = readdirSync(path.join(ROOT, 'scenarios')).filter((f) => f.endsWith('.yaml'));
    expect(scenarios.length).toBeGreaterThanOrEqual(7);
    for (const file of scenarios) {
      const dir = path.join(tmp, 'k6', file);
      await exportCommand(quiet(), () => {}).handler({ _: [], $0: 'asa-bench', format: 'k6', scenario: path.join(ROOT, 'scenarios', file), out: dir, parallelism: 3, 'latency-scale': 1, 'allow-huge': false, namespace } as never);
      const docs = parseAllDocuments(readFileSync(path.join(dir, 'testrun.yaml'), 'utf8')).map((d) => d.toJS() as Json);
      expect(docs.map((d) => d.kind), file).toEqual(['ConfigMap', 'TestRun']);
      const [configMap, testRun] = docs as [Json, Json];
      const cm = await api.create<Json & KubeObject>(configMap as KubeObject, { dryRun: true });
      expect(cm.data, file).toEqual(configMap.data);
      const answer = await dryRunTestRun(testRun);
      expect(answer.status, `${file}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBe(201);
      expect(answer.body.kind).toBe('TestRun');
      // Unknown fields would have been pruned by the structural schema: everything sent came back.
      expect(answer.body.spec, file).toEqual(testRun.spec);
      expect(answer.body.metadata).toMatchObject({ name: testRun.metadata.name, namespace });
    }
    // Nothing was stored.
    expect((await admin.getJson<{ items: unknown[] }>(`/apis/k6.io/v1alpha1/namespaces/${namespace}/testruns`)).items).toEqual([]);
  });

  it('the CRD schema really validates: a wrong type and a missing required field are refused', async () => {
    const base = { apiVersion: 'k6.io/v1alpha1', kind: 'TestRun', metadata: { name: 'bad', namespace } };
    const wrongType = await dryRunTestRun({ ...base, spec: { parallelism: 'three', script: { configMap: { name: 'x', file: 'x.js' } } } });
    expect(wrongType.status).toBe(422);
    expect(JSON.stringify(wrongType.body)).toMatch(/spec\.parallelism/);
    const missing = await dryRunTestRun({ ...base, spec: { parallelism: 1 } });
    expect(missing.status).toBe(422);
    expect(JSON.stringify(missing.body)).toMatch(/spec\.script/);
  });
});
