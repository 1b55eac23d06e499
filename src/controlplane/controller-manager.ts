/**
 * kube-controller-manager beside an API server of the local control plane
 * (`controllers=kcm`, the default): one per API server, tenants included,
 * since each tenant is a cluster of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { ControlPlaneError } from '../types/errors.js';
import type { Progress } from './go.js';
import { freePort, launch, waitFor } from './process.js';

/**
 * kube-controller-manager beside the API server, as in a cluster: its garbage
 * collector and quota monitors keep a watch per resource (CRDs included), and
 * its namespace controller empties and finalizes deleted namespaces. Loopback
 * only; the admin credential; no leader election (one instance). Flags from a
 * feasibility check on v1.37.2 (issue #11).
 */
export async function startControllerManager(
  binary: string,
  cp: { dir: string; server: string; ca: Buffer; adminToken: string; detached: boolean; logFile: string },
  progress: Progress,
  launched: (child: ChildProcess) => void,
): Promise<ChildProcess> {
  const kubeconfig = path.join(cp.dir, 'kube-controller-manager.kubeconfig');
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: cp.server, 'certificate-authority-data': cp.ca.toString('base64') } }],
      users: [{ name: 'admin', user: { token: cp.adminToken } }],
      contexts: [{ name: 'admin', context: { cluster: 'local', user: 'admin' } }],
      'current-context': 'admin',
    }),
    { mode: 0o600 },
  );
  // --root-ca-file must hold the CA alone: the serving cert file starts with the leaf,
  // and kube-controller-manager refuses a bundle whose entry 0 lacks the CA bit.
  const rootCa = path.join(cp.dir, 'root-ca.crt');
  await writeFile(rootCa, caCertificateOnly(cp.ca));
  const flexDir = path.join(cp.dir, 'flexvolume');
  await mkdir(flexDir);
  const port = await freePort();
  const args = [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${path.join(cp.dir, 'kcm-certs')}`,
    '--controllers=*',
    `--service-account-private-key-file=${path.join(cp.dir, 'sa.key')}`,
    `--root-ca-file=${rootCa}`,
    '--use-service-account-credentials=false',
    // By default it creates /usr/libexec/kubernetes/kubelet-plugins/volume/exec/ on the host.
    `--flex-volume-plugin-dir=${flexDir}`,
  ];
  progress(`starting kube-controller-manager (https://127.0.0.1:${port})`);
  const logFile = cp.logFile;
  const kcm = await launch(binary, args, logFile, cp.detached);
  // Handed over as soon as it is launched, so every exit path (a process.exit() included) stops it.
  launched(kcm);
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    await waitFor('kube-controller-manager /healthz', logFile, kcm, 60_000, async () => {
      const res = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent, signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      if (!res) return false;
      await res.body.dump();
      return res.statusCode === 200;
    });
  } finally {
    await agent.close();
  }
  return kcm;
}

/** The CA certificate(s) of a PEM bundle, leaf certificates left out. */
export function caCertificateOnly(bundle: Buffer): string {
  const blocks = bundle.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const cas = blocks.filter((pem) => new X509Certificate(pem).ca);
  if (cas.length === 0) throw new ControlPlaneError('the API server\'s certificate file holds no CA certificate; kube-controller-manager needs one for --root-ca-file');
  return `${cas.join('\n')}\n`;
}

