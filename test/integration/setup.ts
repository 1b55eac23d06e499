/**
 * Starts one real control plane (etcd + kube-apiserver built from Go modules)
 * for all integration tests and stops it afterwards. Never a fake server.
 */
import type { TestProject } from 'vitest/node';
import { ensureControlPlane } from '../../src/controlplane/build.js';
import { DEFAULT_SERVER_VERSION } from '../../src/controlplane/paths.js';
import { startControlPlane, type RunningControlPlane } from '../../src/controlplane/up.js';

let controlPlane: RunningControlPlane | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bins = await ensureControlPlane(DEFAULT_SERVER_VERSION, (m) => process.stderr.write(`[control plane] ${m}\n`));
  controlPlane = await startControlPlane(bins, (m) => process.stderr.write(`[control plane] ${m}\n`));
  project.provide('kubeconfig', controlPlane.kubeconfig);
  project.provide('serverVersion', DEFAULT_SERVER_VERSION);
  return async () => {
    await controlPlane?.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    serverVersion: string;
  }
}
