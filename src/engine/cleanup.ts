/**
 * Removing what runs created, found by the run label alone (so it works for
 * a crashed run, or from another machine): CRDs first (the API server's
 * finalizer deletes their custom objects), then namespaces.
 */
import { LABEL_RUN } from '../generators/labels.js';
import { JSON_HEADERS, RequestError, type KubeClient } from '../kube/client.js';
import { CRD_PATH, NAMESPACES_PATH } from '../kube/paths.js';
import { withQuery } from '../kube/query.js';
import { probeCapabilities } from './capabilities.js';

export interface CleanupOptions {
  /** One run's id, or every asa-bench run when undefined. */
  runId?: string;
  /**
   * The embedded control plane runs no kube-controller-manager, so no namespace
   * controller empties and finalizes deleted namespaces; asa-bench finalizes its
   * own (already empty) namespaces there. Never done on other targets.
   */
  finalizeNamespaces: boolean;
  progress?: (message: string) => void;
  signal?: AbortSignal;
  /** CRDs deleted at a time (default 20). */
  concurrency?: number;
  /** Awaited before each CRD deletion (pacing, e.g. by the machine's free memory). */
  beforeDelete?: () => Promise<void>;
  /** How long to wait for CRD finalizers to finish. */
  timeoutMs?: number;
  /** The server has `/api` (probed when not given): without it there are no namespaces to delete. */
  coreApi?: boolean;
}

export interface CleanupResult {
  crds: number;
  namespaces: number;
  /** Labelled objects still present when cleanup gave up waiting. */
  leftover: number;
}

/** Several parts' cleanups (threads, tenants) added up; a leftover count unknown (-1) in one is unknown in the sum. */
export function addCleanups(cleanups: readonly (CleanupResult & { skipped?: boolean })[]): (CleanupResult & { skipped?: boolean }) | undefined {
  if (cleanups.length === 0) return undefined;
  return {
    crds: cleanups.reduce((a, c) => a + c.crds, 0),
    namespaces: cleanups.reduce((a, c) => a + c.namespaces, 0),
    leftover: cleanups.some((c) => c.leftover < 0) ? -1 : cleanups.reduce((a, c) => a + c.leftover, 0),
    ...(cleanups.some((c) => c.skipped) ? { skipped: true } : {}),
  };
}

interface Named {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
}

/**
 * Cleanup runs when things have gone wrong, often right after the server did:
 * it retries what a restarting server answers (connection errors, timeouts,
 * 429, 5xx, and 403 — a restarted kube-apiserver denies requests until its RBAC
 * caches are filled) for up to a minute before giving up.
 */
async function retrying<T>(fn: () => Promise<T>, signal?: AbortSignal, budgetMs = 60_000): Promise<T> {
  const deadline = performance.now() + budgetMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const retriable =
        err instanceof RequestError &&
        (err.errorClass === 'connection' || err.errorClass === 'timeout' || err.status === 429 || err.status === 403 || (err.status ?? 0) >= 500);
      if (!retriable || performance.now() > deadline || signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export function runSelector(runId: string | undefined): string {
  return runId ? `${LABEL_RUN}=${runId}` : LABEL_RUN;
}

/**
 * Metadata only (PartialObjectMetadataList; a server without it answers the
 * full list): cleanup needs names, and a full CRD list carries every version's
 * schema. discovery-storm's 1,000 CRDs, listed again every 500 ms while they are
 * deleted, allocated 113 MB in its last phase and cleanup (V8's sampling heap
 * profiler, issue 14), more than anything but the /metrics scrapes.
 */
const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

export async function listLabelled(client: KubeClient, path: string, runId: string | undefined, signal?: AbortSignal): Promise<Named[]> {
  const headers = client.headers({ accept: METADATA_LIST_ACCEPT });
  const list = await retrying(async () => {
    const res = await client.expectOk({ method: 'GET', path: withQuery(path, { labelSelector: runSelector(runId) }), headers, signal });
    return JSON.parse(res.body.toString('utf8')) as { items: Named[] | null };
  }, signal);
  // An empty PartialObjectMetadataList has `"items": null`.
  return list.items ?? [];
}

/** A DELETE or PUT that fails on a non-2xx status other than the ones listed as fine. */
async function mutate(client: KubeClient, req: Parameters<KubeClient['send']>[0], fine: number[], signal?: AbortSignal): Promise<void> {
  await retrying(async () => {
    const res = await client.send(req);
    if (res.status >= 300 && !fine.includes(res.status)) {
      throw new RequestError(`${req.method} ${req.path}: HTTP ${res.status}`, `http-${res.status}`, res.status);
    }
  }, signal);
}

/** Labelled CRDs and namespaces that still exist (terminating ones included). */
export async function countLeftovers(client: KubeClient, runId?: string): Promise<number> {
  const { coreApi } = await probeCapabilities(client);
  const [crds, namespaces] = await Promise.all([listLabelled(client, CRD_PATH, runId), coreApi ? listLabelled(client, NAMESPACES_PATH, runId) : []]);
  return crds.length + namespaces.length;
}

export async function cleanup(client: KubeClient, options: CleanupOptions): Promise<CleanupResult> {
  const progress = options.progress ?? (() => {});
  const headers = client.headers(JSON_HEADERS);
  const coreApi = options.coreApi ?? (await probeCapabilities(client, options.signal)).coreApi;
  const listNamespaces = async () => (coreApi ? listLabelled(client, NAMESPACES_PATH, options.runId, options.signal) : []);
  const crds = await listLabelled(client, CRD_PATH, options.runId, options.signal);
  progress(`deleting ${crds.length} CRDs (their custom objects go with them)`);
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < crds.length && !options.signal?.aborted) {
      const crd = crds[next++]!;
      await options.beforeDelete?.();
      await mutate(client, { method: 'DELETE', path: `${CRD_PATH}/${crd.metadata.name}`, headers }, [404], options.signal);
      if (++done % 500 === 0) progress(`deleted ${done}/${crds.length} CRDs`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 20, crds.length) }, worker));

  const namespaces = await listNamespaces();
  if (namespaces.length > 0) progress(`deleting ${namespaces.length} namespaces`);
  for (const ns of namespaces) {
    await mutate(client, { method: 'DELETE', path: `${NAMESPACES_PATH}/${ns.metadata.name}`, headers }, [404, 409], options.signal);
  }

  // Wait for CRD finalizers (custom objects removed) and, on the local control plane, finalize namespaces.
  const deadline = performance.now() + (options.timeoutMs ?? 180_000);
  const nsDeadline = performance.now() + Math.min(60_000, options.timeoutMs ?? 60_000);
  let leftover = 0;
  for (;;) {
    const remainingCrds = await listLabelled(client, CRD_PATH, options.runId, options.signal);
    const remainingNs = await listNamespaces();
    if (options.finalizeNamespaces && remainingCrds.length === 0) {
      if (remainingNs.length > 0) progress(`finalizing ${remainingNs.length} namespaces by hand (no namespace controller on this control plane)`);
      for (const ns of remainingNs) {
        await client.send({
          method: 'PUT',
          path: `${NAMESPACES_PATH}/${ns.metadata.name}/finalize`,
          headers,
          body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.metadata.name }, spec: { finalizers: [] } }),
        });
      }
    }
    leftover = remainingCrds.length + remainingNs.length;
    if (leftover === 0 || performance.now() > deadline || options.signal?.aborted) break;
    // Without our finalization, namespaces wait for the cluster's namespace controller;
    // give it a bounded time once the CRDs are gone, then report what remains.
    if (!options.finalizeNamespaces && remainingCrds.length === 0 && performance.now() > nsDeadline) break;
    if (remainingCrds.length > 0) progress(`waiting for ${remainingCrds.length} CRDs to finish deleting`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { crds: crds.length, namespaces: namespaces.length, leftover };
}
