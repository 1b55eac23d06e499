/**
 * What the kube-apiserver benchmarks share (bench/reference.mjs,
 * bench/truth.mjs): a local control plane (etcd + kube-apiserver from dist/),
 * one Widget CRD with N small objects in its namespace, and the request
 * (path and Accept) each measured op sends.
 */
import { onCleanup, progress, sleep, trackPid } from './lib.mjs';

const env = process.env;

/** The custom resource every op touches. */
export const GROUP = 'ref.asa-bench.io';
export const VERSION = 'v1';
export const PLURAL = 'widgets';
export const NAMESPACE = 'asa-bench-ref';
export const objectName = (i) => `w-${String(i).padStart(5, '0')}`;
export const GET_NAME = objectName(0);
export const COLLECTION = `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${PLURAL}`;
/** What client-go's DiscoveryClient sends for /apis (discovery.AcceptV2 + "," + discovery.AcceptV1). */
export const DISCOVERY_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';

/** Path and Accept per op: the Go client reports its own, and they are checked to be these. */
export function request(op) {
  switch (op) {
    case 'get':
      return { path: `${COLLECTION}/${GET_NAME}`, accept: 'application/json' };
    case 'list-quorum':
      return { path: COLLECTION, accept: 'application/json' };
    case 'list-cache':
      return { path: `${COLLECTION}?resourceVersion=0`, accept: 'application/json' };
    case 'discovery':
      return { path: '/apis', accept: DISCOVERY_ACCEPT };
  }
  throw new Error(op);
}

export async function startServer(apiserverArgs = []) {
  const { ensureControlPlane } = await import('../dist/controlplane/build.js');
  const { startControlPlane } = await import('../dist/controlplane/up.js');
  const { DEFAULT_SERVER_VERSION } = await import('../dist/controlplane/paths.js');
  const version = env.BENCH_SERVER_VERSION ?? DEFAULT_SERVER_VERSION;
  const bins = await ensureControlPlane(version, (m) => progress(m));
  if (apiserverArgs.length > 0) progress(`extra kube-apiserver flags: ${apiserverArgs.join(' ')}`);
  const cp = await startControlPlane(bins, (m) => progress(m), { apiserverArgs });
  const untrackA = trackPid(cp.apiserverPid);
  const untrackE = trackPid(cp.etcdPid);
  const stop = onCleanup('control plane', async () => {
    progress('stopping the control plane');
    await cp.stop();
    untrackA();
    untrackE();
  });
  return { cp, version, stop };
}

/** The Widget CRD in its namespace and `objects` Widgets (created as the admin); resolves with the body size of each op's request. */
export async function createFixtures(cp, OBJECTS, OPS) {
  const { connectionFromKubeconfig, LOCAL_CLUSTER_NAME } = await import('../dist/kube/target.js');
  const { KubeClient, RequestError } = await import('../dist/kube/client.js');
  // Setup as the admin (system:masters); the measured load goes as the load user.
  const admin = new KubeClient(await connectionFromKubeconfig({ kubeconfig: cp.kubeconfig, context: `${LOCAL_CLUSTER_NAME}-admin`, local: true }), { connections: 8 });
  const ignoreExists = (err) => {
    if (!(err instanceof RequestError && err.status === 409)) throw err;
  };
  try {
    await admin.sendJson('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }).catch(ignoreExists);
    const crdName = `${PLURAL}.${GROUP}`;
    await admin
      .sendJson('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: crdName },
        spec: {
          group: GROUP,
          scope: 'Namespaced',
          names: { plural: PLURAL, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: VERSION,
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: { spec: { type: 'object', properties: { size: { type: 'integer' }, color: { type: 'string' } } } },
                },
              },
            },
          ],
        },
      })
      .catch(ignoreExists);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const crd = await admin.getJson(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`);
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crdName} not Established within 60 s`);
      await sleep(200);
    }
    // The collection answers once the CRD's handler is installed.
    for (;;) {
      const res = await admin.send({ method: 'GET', path: `${COLLECTION}?limit=1`, headers: admin.headers({ accept: 'application/json' }) });
      if (res.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${COLLECTION} not served within 60 s (HTTP ${res.status})`);
      await sleep(200);
    }
    progress(`creating ${OBJECTS} custom objects in ${NAMESPACE}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < OBJECTS) {
          const i = next++;
          await admin
            .sendJson('POST', COLLECTION, { apiVersion: `${GROUP}/${VERSION}`, kind: 'Widget', metadata: { name: objectName(i) }, spec: { size: i, color: 'blue' } })
            .catch(ignoreExists);
        }
      }),
    );
    const listed = await admin.getJson(COLLECTION);
    if (listed.items.length !== OBJECTS) throw new Error(`listed ${listed.items.length} objects, expected ${OBJECTS}`);
    const sizes = {};
    for (const op of OPS) {
      const { path: p, accept } = request(op);
      const res = await admin.send({ method: 'GET', path: p, headers: admin.headers({ accept }) });
      if (res.status !== 200) throw new Error(`${op}: GET ${p}: HTTP ${res.status}`);
      sizes[op] = { bytes: res.bytes ?? res.body.length, contentType: res.headers['content-type'] };
    }
    return sizes;
  } finally {
    await admin.close();
  }
}

