/**
 * The basics against the real local kube-apiserver: /version, CRD → Established,
 * create / list / watch of a custom object, through asa-bench's own transport.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { ANNOTATION_SENT_AT } from '../../src/generators/labels.js';
import { decodeWatchLine } from '../../src/engine/watch.js';
import { connectionForLocalControlPlane, connectionFromKubeconfig } from '../../src/kube/target.js';
import { crdManifest, crdRef, type CrdSpecInput } from '../../src/generators/crds.js';
import { collectionPath, CRD_PATH, NAMESPACES_PATH, objectPath } from '../../src/kube/paths.js';
import { withQuery } from '../../src/kube/query.js';
import { CrdGenerator } from '../../src/scenarios/schema.js';
import { cleanup, countLeftovers } from '../../src/engine/cleanup.js';

const runId = 'rkubetst';
const input: CrdSpecInput = { seed: 7, runId, crds: CrdGenerator.parse({ count: 1, groups: 1 }) };
const ref = crdRef(input, 0);
const gv = { group: ref.group, version: ref.versions[0]!, plural: ref.plural, namespaced: true };

let client: KubeClient;

beforeAll(async () => {
  const connection = await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true });
  client = new KubeClient(connection, { connections: 4 });
});

afterAll(async () => {
  await cleanup(client, { runId, finalizeNamespaces: true });
  await client.close();
});

describe('local control plane', () => {
  it('connects from its own credentials file exactly as from its kubeconfig, as the load user', async () => {
    const viaKubeconfig = await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true });
    const direct = await connectionForLocalControlPlane(inject('kubeconfig'));
    expect(direct.server.href).toBe(viaKubeconfig.server.href);
    expect(direct.headers).toEqual(viaKubeconfig.headers);
    expect(String(direct.tls.ca)).toBe(String(viaKubeconfig.tls.ca));
    expect(direct.context).toBe(viaKubeconfig.context);
    // TLS is verified against the control plane's CA, and the server knows us as the load user.
    const c = new KubeClient(direct, { connections: 1 });
    try {
      const review = await c.sendJson<{ status: { userInfo: { username: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
      });
      expect(review.status.userInfo.username).toBe('asa-bench-load');
    } finally {
      await c.close();
    }
  });

  it('reports the version it was built as', async () => {
    const version = await client.getJson<{ gitVersion: string; minor: string }>('/version');
    expect(version.gitVersion).toBe(inject('serverVersion'));
    expect(inject('serverVersion')).toContain(`.${version.minor}.`);
  });

  it('creates a CRD, waits for Established, then creates, lists and watches a custom object', async () => {
    await client.sendJson('POST', CRD_PATH, crdManifest(input, 0));
    let established = false;
    for (let i = 0; i < 200 && !established; i++) {
      const crd = await client.getJson<{ status?: { conditions?: { type: string; status: string }[] } }>(`${CRD_PATH}/${ref.name}`);
      established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      if (!established) await new Promise((r) => setTimeout(r, 50));
    }
    expect(established).toBe(true);

    const ns = `asa-${runId}-0`;
    await client.sendJson('POST', NAMESPACES_PATH, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'asa-bench.io/run': runId } } });

    // Start a watch from the current resourceVersion, then write: the watch must see exactly that write.
    // Until the new resource's watch cache is ready the server answers 429 with Retry-After (KEP-4568).
    let list0Res = await client.send({ method: 'GET', path: collectionPath(gv, ns), headers: client.headers({ accept: 'application/json' }) });
    for (let i = 0; i < 100 && list0Res.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 100));
      list0Res = await client.send({ method: 'GET', path: collectionPath(gv, ns), headers: client.headers({ accept: 'application/json' }) });
    }
    expect(list0Res.status).toBe(200);
    const list0 = JSON.parse(list0Res.body.toString()) as { metadata: { resourceVersion: string }; items: unknown[] };
    expect(list0.items).toHaveLength(0);
    const watch = await client.pool.request({
      method: 'GET',
      path: withQuery(collectionPath(gv, ns), { watch: 1, resourceVersion: list0.metadata.resourceVersion }),
      headers: client.headers({ accept: 'application/json' }),
    });
    expect(watch.statusCode).toBe(200);

    const created = await client.sendJson<{ metadata: { name: string; resourceVersion: string } }>('POST', collectionPath(gv, ns), {
      apiVersion: `${ref.group}/v1`,
      kind: ref.kind,
      metadata: { name: 'first', namespace: ns, labels: { 'asa-bench.io/run': runId }, annotations: { [ANNOTATION_SENT_AT]: '1700000000123456' } },
      spec: { replicas: 3, payload: 'hello' },
    });
    expect(created.metadata.name).toBe('first');

    let buffered = '';
    for await (const chunk of watch.body) {
      buffered += (chunk as Buffer).toString('utf8');
      if (buffered.includes('\n')) break;
    }
    watch.body.destroy();
    const event = JSON.parse(buffered.split('\n')[0]!) as { type: string; object: { metadata: { name: string; resourceVersion: string }; spec: { replicas: number } } };
    expect(event.type).toBe('ADDED');
    expect(event.object.metadata.name).toBe('first');
    expect(event.object.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    // The watcher's field scanner reads the same from this server's real encoding as JSON.parse does.
    expect(decodeWatchLine(Buffer.from(buffered.split('\n')[0]!))).toEqual({ type: 'ADDED', resourceVersion: created.metadata.resourceVersion, sentAtUs: 1700000000123456 });

    const list = await client.getJson<{ items: { metadata: { name: string }; spec: { replicas: number } }[] }>(collectionPath(gv, ns));
    expect(list.items.map((i) => i.metadata.name)).toEqual(['first']);
    expect(list.items[0]!.spec.replicas).toBe(3);

    const got = await client.getJson<{ spec: { payload: string } }>(objectPath(gv, ns, 'first'));
    expect(got.spec.payload).toBe('hello');
  });

  it('rejects an object that violates the generated schema', async () => {
    const res = await client.send({
      method: 'POST',
      path: collectionPath(gv, `asa-${runId}-0`),
      headers: client.headers({ 'content-type': 'application/json', accept: 'application/json' }),
      body: JSON.stringify({ apiVersion: `${ref.group}/v1`, kind: ref.kind, metadata: { name: 'bad' }, spec: { replicas: 'three' } }),
    });
    expect(res.status).toBe(422);
  });

  it('cleanup removes every labelled CRD and namespace', async () => {
    const result = await cleanup(client, { runId, finalizeNamespaces: true });
    expect(result.crds).toBe(1);
    expect(result.leftover).toBe(0);
    expect(await countLeftovers(client, runId)).toBe(0);
  });
});
