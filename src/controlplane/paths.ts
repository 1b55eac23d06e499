/**
 * Where the local control plane lives on disk. Built binaries are cached per
 * version under the asa home (default `<package>/.asa`, outside git; override
 * with ASA_BENCH_HOME) and reused by every run.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterruptedError } from '../types/errors.js';

/** etcd release built from go.etcd.io/etcd/server/v3 (pinned in controlplane/etcd/go.mod). */
export const ETCD_VERSION = 'v3.6.16';
/** The newest k8s.io/kubernetes release that builds here (see README "Server versions"). */
export const DEFAULT_SERVER_VERSION = 'v1.37.2';

/** The package root: dist/controlplane/paths.js → ../.. */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function asaHome(): string {
  return process.env.ASA_BENCH_HOME ? path.resolve(process.env.ASA_BENCH_HOME) : path.join(packageRoot(), '.asa');
}

export function controlPlaneSourceDir(): string {
  return path.join(packageRoot(), 'controlplane');
}

export function binaryPaths(version: string): { kubeApiserver: string; etcd: string } {
  return { kubeApiserver: componentPath('kube-apiserver', version), etcd: etcdPath() };
}

/** A built k8s.io/kubernetes component, cached per build key (a release, or `source-<hash>`). */
export function componentPath(component: string, key: string): string {
  return path.join(asaHome(), 'bin', `${component}-${key}`, component);
}

export function etcdPath(): string {
  return path.join(asaHome(), 'bin', `etcd-${ETCD_VERSION}`, 'etcd');
}

export function buildDir(name: string): string {
  return path.join(asaHome(), 'build', name);
}

/** State of the control plane started by `asa-bench server up`. */
export function serverStateFile(): string {
  return path.join(asaHome(), 'server', 'state.json');
}

/**
 * A cross-process lock (mkdir is atomic), so parallel test workers or two
 * terminals never build the same binary at once. A lock older than an hour is
 * stale. `signal` (Ctrl-C) stops the wait for another process's build.
 */
export async function withLock<T>(name: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const lockDir = path.join(asaHome(), 'locks', `${name}.lock`);
  await mkdir(path.dirname(lockDir), { recursive: true });
  for (;;) {
    if (signal?.aborted) throw new InterruptedError(`interrupted while waiting for another build of ${name} (lock ${lockDir})`);
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(lockDir).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 3_600_000) await rm(lockDir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
