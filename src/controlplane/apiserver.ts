/**
 * Starting one API server of the local control plane on a running storage:
 * kube-apiserver (flavour `full`, with an `--etcd-prefix` per tenant), or the
 * CRD-only server (flavour `crd-only`, crd-only.ts). Each writes its
 * kubeconfig and the connection file asa-bench reads (kube/target.ts) into
 * its own folder, so tenants never share credentials or certificates.
 */
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { LOCAL_CLUSTER_NAME, LOCAL_CONNECTION_FILE, type LocalConnectionFile } from '../kube/target.js';
import { ControlPlaneError } from '../types/errors.js';
import type { Progress } from './build.js';
import { waited } from './go.js';
import { createClientCertAuthority } from './certs.js';
import { CRD_ONLY_DISABLED_ADMISSION, CRD_ONLY_READY_PATH } from './crd-only.js';
import { freePort, launch, waitFor } from './process.js';

/** The user load is sent as: cluster-admin rights, but not exempt from flow control. */
export const LOAD_USER = 'asa-bench-load';
export const LOAD_GROUP = 'asa-bench:load';
const ADMIN_USER = 'asa-bench-admin';

export interface ApiserverLaunch {
  binary: string;
  /** Shown in progress and logs: `kube-apiserver`, `tenant 2`. */
  label: string;
  /** The server's own folder (certs, kubeconfig, connection file); its log is `<label>.log` in `logDir`. */
  dir: string;
  logFile: string;
  storageUrl: string;
  /** --etcd-prefix; the API server's default (/registry) when undefined. */
  prefix?: string;
  /** Extra flags (the spec's `arg=`). */
  args?: readonly string[];
  detached: boolean;
  readyTimeoutMs?: number;
  version: string;
}

export interface StartedApiserver {
  child: ChildProcess;
  server: string;
  kubeconfig: string;
  /** PEM of the CA its serving certificate chains to. */
  ca: string;
  /** The system:masters token (kube-apiserver; kube-controller-manager uses it). */
  adminToken?: string;
  /** The flags it was started with, to start it again the same way (fault tests). */
  args: string[];
  /** Waits for readiness after a restart with the same flags. */
  waitReady(child: ChildProcess): Promise<void>;
}

async function writeKubeconfig(file: string, server: string, ca: string, users: { name: string; user: Record<string, string> }[]): Promise<void> {
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: LOCAL_CLUSTER_NAME, cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users,
      contexts: users.map((u, i) => ({ name: i === 0 ? LOCAL_CLUSTER_NAME : `${LOCAL_CLUSTER_NAME}-admin`, context: { cluster: LOCAL_CLUSTER_NAME, user: u.name } })),
      'current-context': LOCAL_CLUSTER_NAME,
    }),
    { mode: 0o600 },
  );
}

function readyCheck(url: string, agent: Agent, headers: Record<string, string>): () => Promise<boolean> {
  return async () => {
    const res = await request(url, { dispatcher: agent, headers, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (!res) return false;
    await res.body.dump();
    return res.statusCode === 200;
  };
}

/** kube-apiserver with a static admin token (setup) and the load user's token (APF applies to it). */
/**
 * While a server gets ready: `waiting for kube-apiserver to be ready (/readyz): 10 s`;
 * from 10 s on, so that a normal start (~5 s on 2 cores) stays one line.
 */
function readyHeartbeat(label: string, check: string, progress: Progress): (waitedMs: number) => void {
  return (ms) => {
    if (ms >= 10_000) progress(`waiting for ${label} to be ready (${check}): ${waited(ms)}`, 'ready');
  };
}

export async function startKubeApiserver(o: ApiserverLaunch, progress: Progress, onChild: (child: ChildProcess) => void): Promise<StartedApiserver> {
  await mkdir(o.dir, { recursive: true });
  const securePort = await freePort();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(path.join(o.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(path.join(o.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  // Two credentials: an admin in system:masters (setup only), and the load user the
  // kubeconfig uses. system:masters is exempt from API Priority and Fairness, so load
  // sent as admin would never queue or get a 429; the load user goes through APF like
  // any real client, with cluster-admin rights granted by a ClusterRoleBinding below.
  const adminToken = randomBytes(24).toString('hex');
  const token = randomBytes(24).toString('hex');
  await writeFile(path.join(o.dir, 'tokens.csv'), `${adminToken},${ADMIN_USER},${ADMIN_USER},system:masters\n${token},${LOAD_USER},${LOAD_USER},${LOAD_GROUP}\n`, { mode: 0o600 });
  const certDir = path.join(o.dir, 'certs');
  await mkdir(certDir, { recursive: true });
  const server = `https://127.0.0.1:${securePort}`;
  progress(`starting ${o.label} ${o.version} on ${server}${o.prefix ? ` (--etcd-prefix=${o.prefix})` : ''}`);
  const args = [
    `--etcd-servers=${o.storageUrl}`,
    ...(o.prefix ? [`--etcd-prefix=${o.prefix}`] : []),
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${securePort}`,
    `--cert-dir=${certDir}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${path.join(o.dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${path.join(o.dir, 'sa.key')}`,
    `--token-auth-file=${path.join(o.dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    // No kubelets, no other masters: the "kubernetes" Service endpoints would
    // point at loopback, which endpoint validation rejects in a loop.
    '--endpoint-reconciler-type=none',
    '--profiling=true',
    ...(o.args ?? []),
  ];
  const child = await launch(o.binary, args, o.logFile, o.detached);
  // Handed over at once, so a start that fails from here on still stops it.
  onChild(child);
  // The API server writes its self-signed serving cert (with its CA) on start.
  const certFile = path.join(certDir, 'apiserver.crt');
  await waitFor(`${o.label}'s serving certificate`, o.logFile, child, 60_000, async () => existsSync(certFile));
  const ca = await readFile(certFile, 'utf8');
  const adminHeaders = { authorization: `Bearer ${adminToken}` };
  const waitReady = async (c: ChildProcess) => {
    const agent = new Agent({ connect: { ca, rejectUnauthorized: true } });
    try {
      await waitFor(`${o.label} /readyz at ${server}`, o.logFile, c, o.readyTimeoutMs ?? 120_000, readyCheck(`${server}/readyz`, agent, adminHeaders), readyHeartbeat(o.label, '/readyz', progress));
    } finally {
      await agent.close();
    }
  };
  await waitReady(child);
  await grantLoadUser(server, ca, adminHeaders);
  const kubeconfig = path.join(o.dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server, ca, [
    { name: LOAD_USER, user: { token } },
    { name: ADMIN_USER, user: { token: adminToken } },
  ]);
  // The same credentials for asa-bench itself, so a run on the local control plane connects
  // without loading @kubernetes/client-node (~90 MB of harness RSS; see src/kube/target.ts).
  const connection: LocalConnectionFile = { server, ca, token, context: LOCAL_CLUSTER_NAME };
  await writeFile(path.join(o.dir, LOCAL_CONNECTION_FILE), JSON.stringify(connection), { mode: 0o600 });
  return { child, server, kubeconfig, ca, adminToken, args, waitReady };
}

async function grantLoadUser(server: string, ca: string, headers: Record<string, string>): Promise<void> {
  const agent = new Agent({ connect: { ca, rejectUnauthorized: true } });
  try {
    const binding = await request(`${server}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`, {
      dispatcher: agent,
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'asa-bench-load' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: LOAD_GROUP }],
      }),
    });
    const text = await binding.body.text();
    if (binding.statusCode !== 201 && binding.statusCode !== 409) throw new ControlPlaneError(`cannot grant the load user its rights: HTTP ${binding.statusCode}: ${text.slice(0, 200)}`);
  } finally {
    await agent.close();
  }
}

/**
 * The CRD-only server (crd-only.ts says why each flag): our CA signs its serving
 * certificate and an admin client certificate in system:masters, which its
 * delegated authentication, authorization and core informers use to reach the
 * server itself, and which the load uses too (no RBAC, no APF there: every
 * request is system:masters, admitted without flow control).
 */
export async function startCrdOnlyServer(o: ApiserverLaunch, progress: Progress, onChild: (child: ChildProcess) => void): Promise<StartedApiserver> {
  await mkdir(o.dir, { recursive: true });
  const securePort = await freePort();
  const server = `https://127.0.0.1:${securePort}`;
  const authority = createClientCertAuthority(ADMIN_USER);
  const file = (name: string) => path.join(o.dir, name);
  await writeFile(file('ca.crt'), authority.ca);
  await writeFile(file('serving.crt'), authority.serving.cert);
  await writeFile(file('serving.key'), authority.serving.key, { mode: 0o600 });
  const kubeconfig = file('kubeconfig');
  await writeKubeconfig(kubeconfig, server, authority.ca, [{ name: ADMIN_USER, user: { 'client-certificate-data': Buffer.from(authority.admin.cert).toString('base64'), 'client-key-data': Buffer.from(authority.admin.key).toString('base64') } }]);
  progress(`starting the CRD-only API server ${o.version} on ${server}${o.prefix ? ` (--etcd-prefix=${o.prefix})` : ''}`);
  const args = [
    `--etcd-servers=${o.storageUrl}`,
    ...(o.prefix ? [`--etcd-prefix=${o.prefix}`] : []),
    '--bind-address=127.0.0.1',
    `--secure-port=${securePort}`,
    `--tls-cert-file=${file('serving.crt')}`,
    `--tls-private-key-file=${file('serving.key')}`,
    `--client-ca-file=${file('ca.crt')}`,
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--authentication-skip-lookup',
    `--disable-admission-plugins=${CRD_ONLY_DISABLED_ADMISSION.join(',')}`,
    '--enable-priority-and-fairness=false',
    '--profiling=true',
    ...(o.args ?? []),
  ];
  const child = await launch(o.binary, args, o.logFile, o.detached);
  // Handed over at once, so a start that fails from here on still stops it.
  onChild(child);
  const waitReady = async (c: ChildProcess) => {
    const agent = new Agent({ connect: { ca: authority.ca, cert: authority.admin.cert, key: authority.admin.key, rejectUnauthorized: true } });
    try {
      await waitFor(`${o.label} ${CRD_ONLY_READY_PATH} at ${server}`, o.logFile, c, o.readyTimeoutMs ?? 120_000, readyCheck(`${server}${CRD_ONLY_READY_PATH}`, agent, {}), readyHeartbeat(o.label, CRD_ONLY_READY_PATH, progress));
    } finally {
      await agent.close();
    }
  };
  await waitReady(child);
  const connection: LocalConnectionFile = { server, ca: authority.ca, clientCert: authority.admin.cert, clientKey: authority.admin.key, context: LOCAL_CLUSTER_NAME };
  await writeFile(file(LOCAL_CONNECTION_FILE), JSON.stringify(connection), { mode: 0o600 });
  return { child, server, kubeconfig, ca: authority.ca, args, waitReady };
}
