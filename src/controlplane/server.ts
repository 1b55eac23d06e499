/**
 * The long-lived local control plane of `asa-bench server up|down|status`,
 * and the choice `run` makes: reuse a running one of the same spec, or
 * start an ephemeral one for the run and stop it afterwards.
 */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { ControlPlaneError } from '../types/errors.js';
import type { ServerRecord } from '../types/results.js';
import type { Progress } from './build.js';
import { buildFor } from './build-server.js';
import type { ResolvedServer } from './resolve.js';
import { formatServerSpec } from './spec.js';
import { serverStateFile } from './paths.js';
import { isAlive, startControlPlane, stopControlPlane, type ControlPlaneOptions, type ControlPlaneState, type Substitutions } from './up.js';

export async function readServerState(): Promise<ControlPlaneState | undefined> {
  try {
    return JSON.parse(await readFile(serverStateFile(), 'utf8')) as ControlPlaneState;
  } catch {
    return undefined;
  }
}

/** The control plane from `server up`, if its processes are still alive. */
export async function runningServer(): Promise<ControlPlaneState | undefined> {
  const state = await readServerState();
  if (state && isAlive(state.apiserverPid) && isAlive(state.etcdPid) && (state.controllerManagerPid === undefined || isAlive(state.controllerManagerPid))) return state;
  return undefined;
}

export async function serverUp(resolved: ResolvedServer, progress: Progress, options: ControlPlaneOptions = {}): Promise<ControlPlaneState> {
  const existing = await runningServer();
  if (existing) {
    throw new ControlPlaneError(`a local control plane (${existing.spec?.label ?? existing.version}) is already running at ${existing.server}`, 'run `asa-bench server down` first');
  }
  const { bins, record } = await buildFor(resolved, progress);
  const running = await startControlPlane(bins, progress, { ...options, ...substitutionsOf(resolved), apiserverArgs: resolved.spec.args, detached: true });
  const { stop: _stop, crashApiserver: _crash, ...rest } = running;
  const state: ControlPlaneState = { ...rest, spec: record };
  const file = serverStateFile();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
  await rename(`${file}.tmp`, file);
  return state;
}

export async function serverDown(): Promise<ControlPlaneState | undefined> {
  const state = await readServerState();
  if (!state) return undefined;
  await stopControlPlane(state);
  await rm(serverStateFile(), { force: true });
  return state;
}

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

/** The spec's substituted components, as startControlPlane takes them. */
function substitutionsOf(resolved: ResolvedServer): Substitutions {
  return { storage: resolved.spec.storage, flavour: resolved.spec.flavour, tenants: resolved.spec.tenants };
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
export async function acquireLocalTarget(resolved: ResolvedServer, progress: Progress, options: ControlPlaneOptions = {}): Promise<LocalTarget> {
  const running = await runningServer();
  if (running && running.spec && runningSpec(running) === formatServerSpec(resolved.spec) && running.spec.buildKey === resolved.buildKey) {
    progress(`using the running local control plane ${running.spec.label} at ${running.server}`);
    return targetOf(running, running.spec, false, async () => {});
  }
  if (running) progress(`a local control plane (${running.spec?.label ?? running.version}) is running, but this run asks for ${resolved.label}: starting its own`);
  const { bins, record } = await buildFor(resolved, progress);
  const cp = await startControlPlane(bins, progress, { ...options, ...substitutionsOf(resolved), apiserverArgs: [...resolved.spec.args, ...(options.apiserverArgs ?? [])] });
  return targetOf(cp, record, true, () => cp.stop());
}
