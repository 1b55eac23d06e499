/**
 * The long-lived local control plane of `asa-bench server up|down|status`,
 * and the choice `run` makes: reuse a running one of the same version, or
 * start an ephemeral one for the run and stop it afterwards.
 */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { ControlPlaneError } from '../types/errors.js';
import { ensureControlPlane, type Progress } from './build.js';
import { serverStateFile } from './paths.js';
import { isAlive, startControlPlane, stopControlPlane, type ControlPlaneOptions, type ControlPlaneState } from './up.js';

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
  if (state && isAlive(state.apiserverPid) && isAlive(state.etcdPid)) return state;
  return undefined;
}

export async function serverUp(version: string, progress: Progress, options: ControlPlaneOptions = {}): Promise<ControlPlaneState> {
  const existing = await runningServer();
  if (existing) {
    throw new ControlPlaneError(`a local control plane (${existing.version}) is already running at ${existing.server}`, 'run `asa-bench server down` first');
  }
  const bins = await ensureControlPlane(version, progress);
  const running = await startControlPlane(bins, progress, { ...options, detached: true });
  const { stop: _stop, ...state } = running;
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
  release(): Promise<void>;
}

/**
 * The local control plane for a run: a running `server up` instance of the
 * same version is reused (unless extra API server flags are asked for);
 * otherwise one is built if needed, started, and stopped by `release`.
 */
export async function acquireLocalTarget(version: string, progress: Progress, options: ControlPlaneOptions = {}): Promise<LocalTarget> {
  const running = await runningServer();
  if (running && running.version === version && !(options.apiserverArgs?.length)) {
    progress(`using the running local control plane ${running.version} at ${running.server}`);
    return { kubeconfig: running.kubeconfig, version: running.version, ephemeral: false, dir: running.dir, etcdUrl: running.etcdUrl, release: async () => {} };
  }
  const bins = await ensureControlPlane(version, progress);
  const cp = await startControlPlane(bins, progress, options);
  return { kubeconfig: cp.kubeconfig, version: cp.version, ephemeral: true, dir: cp.dir, etcdUrl: cp.etcdUrl, release: () => cp.stop() };
}
