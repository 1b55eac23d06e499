/**
 * Starting and stopping the local control plane: the storage (etcd, or kine
 * over SQLite) and one API server per tenant (kube-apiserver, or the CRD-only
 * server) on loopback, data in a temp folder, credentials and a kubeconfig
 * per API server (apiserver.ts). Everything it started is stopped, API
 * servers first, when the start fails half-way and on `stop`.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ControlPlaneError } from '../types/errors.js';
import type { ServerRecord } from '../types/results.js';
import { startCrdOnlyServer, startKubeApiserver, type ApiserverLaunch, type StartedApiserver } from './apiserver.js';
import type { BuiltControlPlane, Progress } from './build.js';
import { startControllerManager } from './controller-manager.js';
import type { Flavour } from './crd-only.js';
import { launch, NotBuiltError, stopProcess } from './process.js';
import { MAX_TENANTS } from './spec.js';
import { startStorage, type StorageKind } from './storage.js';

export { LOAD_GROUP, LOAD_USER } from './apiserver.js';
export { isAlive } from './process.js';

/** The substitutions of the server spec (`storage=`, `flavour=`, `tenants=`; src/controlplane/spec.ts). */
export interface Substitutions {
  /** etcd (default) or kine over SQLite. */
  storage?: StorageKind;
  /** full (kube-apiserver, default) or crd-only (the apiextensions-apiserver alone). */
  flavour?: Flavour;
  /** API servers on the one storage, each under --etcd-prefix=/tenant-<i> (default 1: no prefix). */
  tenants?: number;
}

export interface ControlPlaneOptions extends Substitutions {
  /** Keep processes running after this process exits (`server up`). */
  detached?: boolean;
  /** Extra API server flags, e.g. `--max-requests-inflight=5`. */
  apiserverArgs?: readonly string[];
  /** How long to wait for /readyz. */
  readyTimeoutMs?: number;
}

/** One API server of the control plane (one per tenant). */
export interface ApiserverState {
  pid: number;
  server: string;
  kubeconfig: string;
  /** Its --etcd-prefix (tenants only). */
  prefix?: string;
  /** Its kube-controller-manager (controllers=kcm). */
  controllerManagerPid?: number;
}

/** What a running control plane is; serializable so `server down` can find it. */
export interface ControlPlaneState {
  version: string;
  dir: string;
  /** The (first) API server's kubeconfig and URL. */
  kubeconfig: string;
  server: string;
  /** The storage process (etcd or kine). */
  etcdPid: number;
  apiserverPid: number;
  etcdUrl: string;
  startedAt: string;
  /** kube-controller-manager beside the (first) API server, when it runs (controllers=kcm). */
  controllerManagerPid?: number;
  /** The server spec as given and resolved (set by acquireLocalTarget / serverUp). */
  spec?: ServerRecord;
  storage?: { kind: StorageKind; metricsUrl: string; pprofUrl?: string };
  flavour?: Flavour;
  /** Every API server, the first one included (more than one with tenants). */
  apiservers?: ApiserverState[];
}

export interface RunningControlPlane extends ControlPlaneState {
  stop(): Promise<void>;
  /**
   * Kills the (first) API server (SIGKILL, as a crash would) and, after `downMs`, starts it
   * again with the same flags, port, certificates and storage; resolves when it is ready.
   * For fault tests.
   */
  crashApiserver(downMs: number): Promise<void>;
}


export async function startControlPlane(bins: BuiltControlPlane, progress: Progress = () => {}, options: ControlPlaneOptions = {}): Promise<RunningControlPlane> {
  // Ports come from the kernel (listen on :0) and are released before etcd and the API server
  // bind them; another process can take one in between. Retry with fresh ports when that happens.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bins, progress, options);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof ControlPlaneError) || !/address already in use/.test(err.message)) throw err;
      progress('a port was taken meanwhile; retrying with fresh ports');
    }
  }
}

function storageBinary(bins: BuiltControlPlane, kind: StorageKind): string {
  if (kind === 'etcd') return bins.etcd;
  if (!bins.kine) throw new NotBuiltError('storage=kine: kine is not built', 'storage=kine');
  return bins.kine;
}

function apiserverBinary(bins: BuiltControlPlane, flavour: Flavour): string {
  if (flavour === 'full') return bins.kubeApiserver;
  if (!bins.crdOnly) throw new NotBuiltError('flavour=crd-only: the CRD-only server is not built', 'flavour=crd-only');
  return bins.crdOnly;
}

type Started = StartedApiserver & { prefix?: string; launch: ApiserverLaunch; controllerManagerPid?: number };

async function startOnce(bins: BuiltControlPlane, progress: Progress, options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const storageKind = options.storage ?? 'etcd';
  const flavour = options.flavour ?? 'full';
  const tenants = options.tenants ?? 1;
  if (!Number.isSafeInteger(tenants) || tenants < 1 || tenants > MAX_TENANTS) throw new ControlPlaneError(`tenants=${tenants}: expected a whole number from 1 to ${MAX_TENANTS}`);
  const detached = options.detached ?? false;
  const dir = await mkdtemp(path.join(os.tmpdir(), `asa-bench-${bins.version}-`));
  const { children, stopAll } = ownChildren(dir, detached);
  try {
    const storage = await startStorage(storageKind, storageBinary(bins, storageKind), dir, progress, detached);
    children.push(storage.child);
    const started: Started[] = [];
    // One after another: on 2 cores, parallel starts only slow each other down.
    for (let i = 1; i <= tenants; i++) started.push(await startTenant(bins, { i, tenants, flavour, dir, storageUrl: storage.url, detached, options }, progress, children));
    const first = started[0]!;
    const parts = [bins.version, ...(storageKind !== 'etcd' ? [storageKind] : []), ...(flavour !== 'full' ? [flavour] : []), ...(tenants > 1 ? [`${tenants} tenants`] : []), bins.kubeControllerManager && flavour === 'full' ? 'with kube-controller-manager' : 'no controllers'];
    progress(`control plane ready (${parts.join(', ')}); kubeconfig ${first.kubeconfig}`);
    const state: ControlPlaneState = {
      version: bins.version,
      dir,
      kubeconfig: first.kubeconfig,
      server: first.server,
      etcdPid: storage.child.pid!,
      apiserverPid: first.child.pid!,
      etcdUrl: storage.url,
      startedAt: new Date().toISOString(),
      storage: { kind: storageKind, metricsUrl: storage.metricsUrl, pprofUrl: storage.pprofUrl },
      flavour,
      ...(first.controllerManagerPid !== undefined ? { controllerManagerPid: first.controllerManagerPid } : {}),
      apiservers: started.map((s) => ({ pid: s.child.pid!, server: s.server, kubeconfig: s.kubeconfig, ...(s.prefix ? { prefix: s.prefix } : {}), ...(s.controllerManagerPid !== undefined ? { controllerManagerPid: s.controllerManagerPid } : {}) })),
    };
    return { ...state, stop: stopAll, crashApiserver: crasher(children, first, detached) };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The processes a control plane started (storage first), and how to stop them
 * all and remove `dir`. Every exit path stops them, a process.exit() included
 * (a third Ctrl-C left etcd running and its 411 MB data folder behind): 'exit'
 * handlers run synchronously, so the last resort is SIGKILL and a synchronous rm.
 */
function ownChildren(dir: string, detached: boolean): { children: ChildProcess[]; stopAll: () => Promise<void> } {
  const children: ChildProcess[] = [];
  const onExit = () => {
    for (const child of children) {
      try {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  if (!detached) process.once('exit', onExit);
  const stopAll = async () => {
    // API servers first: they shut down cleanly only while the storage still answers.
    for (const child of [...children].reverse()) await stopProcess(child.pid);
    await rm(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };
  return { children, stopAll };
}

interface TenantPlace {
  /** 1-based. */
  i: number;
  tenants: number;
  flavour: Flavour;
  dir: string;
  storageUrl: string;
  detached: boolean;
  options: ControlPlaneOptions;
}

/** API server `i` of `tenants` (under its own prefix when there are several), and its kube-controller-manager when built. */
async function startTenant(bins: BuiltControlPlane, t: TenantPlace, progress: Progress, children: ChildProcess[]): Promise<Started> {
  const { i, tenants, flavour, dir, detached } = t;
  const name = tenants > 1 ? `tenant-${i}` : flavour === 'crd-only' ? 'apiextensions-apiserver' : 'kube-apiserver';
  const launchOptions: ApiserverLaunch = {
    binary: apiserverBinary(bins, flavour),
    label: tenants > 1 ? `tenant ${i}/${tenants}: ${flavour === 'crd-only' ? 'CRD-only server' : 'kube-apiserver'}` : flavour === 'crd-only' ? 'the CRD-only API server' : 'kube-apiserver',
    dir: tenants > 1 ? path.join(dir, name) : dir,
    logFile: path.join(dir, `${name}.log`),
    storageUrl: t.storageUrl,
    ...(tenants > 1 ? { prefix: `/tenant-${i}` } : {}),
    args: t.options.apiserverArgs ?? [],
    detached,
    readyTimeoutMs: t.options.readyTimeoutMs,
    version: bins.version,
  };
  const start = flavour === 'crd-only' ? startCrdOnlyServer : startKubeApiserver;
  const s = await start(launchOptions, progress, (child) => children.push(child));
  let controllerManagerPid: number | undefined;
  if (bins.kubeControllerManager && s.adminToken) {
    const logFile = path.join(dir, tenants > 1 ? `${name}-kube-controller-manager.log` : 'kube-controller-manager.log');
    const kcm = await startControllerManager(bins.kubeControllerManager, { dir: launchOptions.dir, server: s.server, ca: Buffer.from(s.ca), adminToken: s.adminToken, detached, logFile }, progress, (child) => children.push(child));
    controllerManagerPid = kcm.pid!;
  }
  return { ...s, launch: launchOptions, ...(launchOptions.prefix ? { prefix: launchOptions.prefix } : {}), ...(controllerManagerPid !== undefined ? { controllerManagerPid } : {}) };
}

/** Kills the first API server, waits `downMs`, starts it again on the same storage and waits until it is ready. */
function crasher(children: ChildProcess[], first: Started, detached: boolean): (downMs: number) => Promise<void> {
  return async (downMs: number) => {
    const index = children.indexOf(first.child);
    const current = children[index]!;
    process.kill(current.pid!, 'SIGKILL');
    await new Promise((r) => current.once('exit', r));
    await new Promise((r) => setTimeout(r, downMs));
    const restarted = await launch(first.launch.binary, first.args, first.launch.logFile, detached);
    children[index] = restarted;
    first.child = restarted;
    await first.waitReady(restarted);
  };
}

/** Stops a control plane recorded in a state file (another process started it). */
export async function stopControlPlane(state: ControlPlaneState): Promise<void> {
  const apiservers: ApiserverState[] = state.apiservers ?? [{ pid: state.apiserverPid, server: state.server, kubeconfig: state.kubeconfig, ...(state.controllerManagerPid !== undefined ? { controllerManagerPid: state.controllerManagerPid } : {}) }];
  for (const a of [...apiservers].reverse()) {
    await stopProcess(a.controllerManagerPid);
    await stopProcess(a.pid);
  }
  await stopProcess(state.etcdPid);
  await rm(state.dir, { recursive: true, force: true });
}

