/**
 * Building what a resolved server spec needs (src/controlplane/resolve.ts):
 * etcd, kube-apiserver from a release or a source tree (or a prebuilt
 * binary=), and kube-controller-manager from the same release or tree when
 * controllers=kcm; kine (storage=kine) or the CRD-only server in place of
 * kube-apiserver (flavour=crd-only); then the record results carry, with the
 * binaries' sha256.
 */
import type { ServerRecord } from '../types/results.js';
import { ensureComponent, ensureEtcd, releaseTarget, type BuildTarget, type BuiltControlPlane, type Progress } from './build.js';
import { ensureCrdOnlyServer } from './crd-only.js';
import { ensureKine } from './kine.js';
import { serverRecord, type ResolvedServer } from './resolve.js';
import { sha256File } from './tree.js';

/** The build target of a resolved spec (undefined for binary=, which is not built). */
export function buildTarget(resolved: ResolvedServer): BuildTarget | undefined {
  if (resolved.spec.kind === 'binary') return undefined;
  if (!resolved.source) return releaseTarget(resolved.version);
  const { dir, layout, staging } = resolved.source;
  return { key: resolved.buildKey, version: resolved.version, stampVersion: resolved.stampVersion, tree: { dir, ...(layout === 'checkout' ? { staging } : {}) } };
}

/**
 * Builds what a resolved spec needs (cached): etcd, kube-apiserver (unless
 * binary=), and kube-controller-manager from the same release or tree when
 * controllers=kcm (for binary=, from the release it reports or version=).
 */
export async function ensureServer(resolved: ResolvedServer, progress: Progress = () => {}, signal?: AbortSignal): Promise<BuiltControlPlane> {
  const etcd = await ensureEtcd(progress, signal);
  const kine = resolved.spec.storage === 'kine' ? await ensureKine(progress, signal) : undefined;
  const substituted = { ...(kine ? { kine } : {}) };
  // The CRD-only server replaces kube-apiserver (and runs without controllers): nothing else to build.
  if (resolved.spec.flavour === 'crd-only') {
    const crdOnly = await ensureCrdOnlyServer(resolved.version, progress, signal);
    return { version: resolved.stampVersion, kubeApiserver: crdOnly, etcd, crdOnly, ...substituted };
  }
  const target = buildTarget(resolved);
  const kubeApiserver = target ? await ensureComponent('kube-apiserver', target, progress, signal) : resolved.binary!.path;
  const kcmTarget = target ?? releaseTarget(resolved.version);
  const kubeControllerManager = resolved.spec.controllers === 'kcm' ? await ensureComponent('kube-controller-manager', kcmTarget, progress, signal) : undefined;
  return { version: resolved.stampVersion, kubeApiserver, etcd, ...(kubeControllerManager ? { kubeControllerManager } : {}), ...substituted };
}

/** Builds (cached) what the spec needs and records it, binaries' sha256 included; `signal` (Ctrl-C) stops a build under way. */
export async function buildFor(resolved: ResolvedServer, progress: Progress, signal?: AbortSignal): Promise<{ bins: BuiltControlPlane; record: ServerRecord }> {
  const bins = await ensureServer(resolved, progress, signal);
  const [kubeApiserverSha256, kubeControllerManagerSha256, kineSha256] = await Promise.all([
    sha256File(bins.kubeApiserver),
    bins.kubeControllerManager ? sha256File(bins.kubeControllerManager) : undefined,
    bins.kine ? sha256File(bins.kine) : undefined,
  ]);
  const record = serverRecord(resolved, {
    kubeApiserver: bins.kubeApiserver,
    kubeApiserverSha256,
    ...(bins.kubeControllerManager ? { kubeControllerManager: bins.kubeControllerManager, kubeControllerManagerSha256 } : {}),
    ...(bins.kine ? { kine: bins.kine, kineSha256 } : {}),
  });
  return { bins, record };
}

