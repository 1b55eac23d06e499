/**
 * The long-lived local control plane of `asa-bench server up|down|status`:
 * started detached, described by a state file (paths.ts: serverStateFile) that
 * later commands read to find it, reuse it and stop it.
 */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { ControlPlaneError, InterruptedError } from '../types/errors.js';
import type { Progress } from './build.js';
import { buildFor } from './build-server.js';
import type { ResolvedServer } from './resolve.js';
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

/** `serverUp` while a long-lived control plane is running: it must be stopped first (the CLI says how). */
export class AlreadyUpError extends ControlPlaneError {}

/** `signal` (Ctrl-C) stops a build under way and starts nothing once it has fired. */
export async function serverUp(resolved: ResolvedServer, progress: Progress, options: ControlPlaneOptions = {}, signal?: AbortSignal): Promise<ControlPlaneState> {
  const existing = await runningServer();
  if (existing) {
    throw new AlreadyUpError(`a local control plane (${existing.spec?.label ?? existing.version}) is already running at ${existing.server}`);
  }
  const { bins, record } = await buildFor(resolved, progress, signal);
  if (signal?.aborted) throw new InterruptedError('interrupted after the build; nothing was started');
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

/** The spec's substituted components, as startControlPlane takes them. */
export function substitutionsOf(resolved: ResolvedServer): Substitutions {
  return { storage: resolved.spec.storage, flavour: resolved.spec.flavour, tenants: resolved.spec.tenants };
}
