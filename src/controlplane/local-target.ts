/**
 * The local control plane a run uses: the running `server up` instance when it
 * has the same spec and build (server-up.ts), otherwise one started for the
 * run alone and stopped (with all its data) when the run releases it.
 */
import type { ServerRecord } from '../types/results.js';
import type { Progress } from './build.js';
import { buildFor } from './build-server.js';
import type { ResolvedServer } from './resolve.js';
import { runningServer, substitutionsOf } from './server-up.js';
import { formatServerSpec } from './spec.js';
import { startControlPlane, type ControlPlaneOptions, type ControlPlaneState } from './up.js';

export interface LocalTarget {
  kubeconfig: string;
  version: string;
  /** True if this run started it (and `release` stops it). */
  ephemeral: boolean;
  /** Folder with etcd.log and kube-apiserver.log while it runs. */
  dir: string;
  /** etcd's client URL (plain HTTP on loopback; serves /debug/pprof with `--enable-pprof`). */
  etcdUrl: string;
  /** The server spec as given and resolved. */
  server: ServerRecord;
  /** The storage process, whose /metrics a run samples. */
  storage?: ControlPlaneState['storage'];
  /** `tenants=N`: every tenant's API server (the first is `kubeconfig`). */
  tenants?: { index: number; prefix: string; kubeconfig: string }[];
  release(): Promise<void>;
}

/** The canonical spec a state file describes (states from before specs ran the bare server). */
function runningSpec(state: ControlPlaneState): string {
  return state.spec?.spec ?? `${state.version},controllers=none`;
}

function targetOf(state: ControlPlaneState, server: ServerRecord, ephemeral: boolean, release: () => Promise<void>): LocalTarget {
  const apiservers = state.apiservers ?? [];
  return {
    kubeconfig: state.kubeconfig,
    version: state.version,
    ephemeral,
    dir: state.dir,
    // kine serves pprof on its metrics address, etcd on its client URL.
    etcdUrl: state.storage?.pprofUrl ?? state.etcdUrl,
    server,
    ...(state.storage ? { storage: state.storage } : {}),
    ...(apiservers.length > 1 ? { tenants: apiservers.map((a, i) => ({ index: i + 1, prefix: a.prefix ?? '/registry', kubeconfig: a.kubeconfig })) } : {}),
    release,
  };
}

/**
 * The local control plane for a run: a running `server up` instance of the
 * same spec (and build) is reused; otherwise what the spec needs is built if
 * missing, started, and stopped by `release`.
 */
export async function acquireLocalTarget(resolved: ResolvedServer, progress: Progress, options: ControlPlaneOptions = {}, signal?: AbortSignal): Promise<LocalTarget> {
  const running = await runningServer();
  if (running && running.spec && runningSpec(running) === formatServerSpec(resolved.spec) && running.spec.buildKey === resolved.buildKey) {
    progress(`using the running local control plane ${running.spec.label} at ${running.server}`);
    return targetOf(running, running.spec, false, async () => {});
  }
  if (running) progress(`a local control plane (${running.spec?.label ?? running.version}) is running, but this run asks for ${resolved.label}: starting its own`);
  const { bins, record } = await buildFor(resolved, progress, signal);
  const cp = await startControlPlane(bins, progress, { ...options, ...substitutionsOf(resolved), apiserverArgs: [...resolved.spec.args, ...(options.apiserverArgs ?? [])] });
  return targetOf(cp, record, true, () => cp.stop());
}
