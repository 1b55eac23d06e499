/**
 * Building the local control plane through the Go module proxy:
 *
 * - kube-apiserver from the `k8s.io/kubernetes` module. That module points its
 *   staging modules (k8s.io/api, k8s.io/apiserver, ...) at `./staging/...`
 *   with replace lines that a dependent module ignores, and requires them at
 *   v0.0.0. We read the chosen version's own go.mod and replace every staging
 *   module with its published v0.<minor>.<patch>, so any served version builds
 *   without a hard-coded list. (See https://github.com/kubernetes/kubernetes/issues/79384.)
 * - etcd 3.6 from go.etcd.io/etcd/server/v3 (Debian's 3.4 is too old for
 *   current API servers), from the committed module in controlplane/etcd.
 *
 * Binaries are cached per version under the asa home (outside git) and reused.
 * Nothing here prints: progress goes to the caller's callback.
 */
import { copyFile, mkdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlPlaneError, UsageError } from '../types/errors.js';
import { buildInto, go, goDirective, toolchainEnv, type Progress } from './go.js';
import { buildDir, componentPath, controlPlaneSourceDir, ETCD_VERSION, etcdPath, withLock } from './paths.js';
import { isRelease, parseRelease } from './spec.js';

export type { Progress } from './go.js';

const VERSION = /^v1\.(\d+)\.(\d+)$/;

export function parseServerVersion(version: string): { minor: number; patch: number } {
  if (!VERSION.test(version)) throw new UsageError(`server version ${version}: expected a Kubernetes release such as v1.37.2`);
  return parseRelease(version);
}

export interface BuiltControlPlane {
  version: string;
  kubeApiserver: string;
  etcd: string;
  /** Present when kube-controller-manager runs beside the API server (controllers=kcm). */
  kubeControllerManager?: string;
  /** kine, for `storage=kine` (kine.ts). */
  kine?: string;
  /** The CRD-only API server, for `flavour=crd-only` (crd-only.ts); then kubeApiserver is not built. */
  crdOnly?: string;
}

/** A k8s.io/kubernetes component built by a generated wrapper module. */
export type Component = 'kube-apiserver' | 'kube-controller-manager';

/** Where k8s.io/kubernetes comes from for one build. */
export interface BuildTarget {
  /** Folder name in the cache (bin/<component>-<key>): the release, or `source-<hash>`. */
  key: string;
  /** The release the staging modules come from (module proxy), or the base of a checkout. */
  version: string;
  /** What /version reports. */
  stampVersion: string;
  /** A source tree instead of the proxy's module; with `staging`, its ./staging modules too. */
  tree?: { dir: string; staging?: Record<string, string> };
}

export function releaseTarget(version: string): BuildTarget {
  parseServerVersion(version);
  return { key: version, version, stampVersion: version };
}

/** Builds whatever is missing for `version` (kube-apiserver and etcd only); returns the binary paths. */
export async function ensureControlPlane(version: string, progress: Progress = () => {}, signal?: AbortSignal): Promise<BuiltControlPlane> {
  const target = releaseTarget(version);
  const etcd = await ensureEtcd(progress, signal);
  return { version, kubeApiserver: await ensureComponent('kube-apiserver', target, progress, signal), etcd };
}

/** `signal` (Ctrl-C) stops a build under way: its go processes are killed and nothing is written. */
export async function ensureEtcd(progress: Progress = () => {}, signal?: AbortSignal): Promise<string> {
  const file = etcdPath();
  if (!existsSync(file)) {
    await withLock(`etcd-${ETCD_VERSION}`, async () => {
      if (!existsSync(file)) await buildEtcd(file, progress, signal);
    }, signal);
  }
  return file;
}

/** Builds one component for a target unless the cache has it; returns its path. */
export async function ensureComponent(component: Component, target: BuildTarget, progress: Progress = () => {}, signal?: AbortSignal): Promise<string> {
  const file = componentPath(component, target.key);
  if (!existsSync(file)) {
    await withLock(`${component}-${target.key}`, async () => {
      if (!existsSync(file)) await buildComponent(component, target, file, progress, signal);
    }, signal);
  }
  return file;
}

async function buildEtcd(output: string, progress: Progress, signal?: AbortSignal): Promise<void> {
  const source = path.join(controlPlaneSourceDir(), 'etcd');
  progress(`building etcd ${ETCD_VERSION} (go.etcd.io/etcd/server/v3, first time only, a few minutes)`);
  const started = Date.now();
  await buildInto(output, `etcd ${ETCD_VERSION}`, async (tmp) => {
    await go(['build', '-trimpath', '-ldflags', '-s -w', '-o', tmp, '.'], source, progress, { heartbeat: `building etcd ${ETCD_VERSION}`, signal });
    return tmp;
  });
  progress(`built etcd ${ETCD_VERSION} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
}

/** Staging modules named in k8s.io/kubernetes's own go.mod (`k8s.io/x => ./staging/src/k8s.io/x`). */
export function stagingModules(kubernetesGoMod: string): string[] {
  const modules = new Set<string>();
  for (const line of kubernetesGoMod.split('\n')) {
    const m = /^\s*(?:replace\s+)?(k8s\.io\/[\w.-]+)\s*=>\s*\.\/staging\//.exec(line);
    if (m) modules.add(m[1]!);
  }
  return [...modules].sort();
}

export { goDirective } from './go.js';

/**
 * The go.mod of the wrapper module that builds a component. Released:
 * k8s.io/kubernetes at the release, staging modules at v0.<minor>.<patch>. A
 * tree: k8s.io/kubernetes replaced by the folder, staging modules by its
 * ./staging folders (a checkout) or by the release's published ones (a module
 * copy has none). The wrapper's replaces decide: those in the tree's own go.mod
 * do not apply to a module that requires it.
 */
export function wrapperGoMod(target: BuildTarget | string, kubernetesGoMod: string, component: Component = 'kube-apiserver'): string {
  const t = typeof target === 'string' ? releaseTarget(target) : target;
  const staging = stagingModules(kubernetesGoMod);
  if (staging.length === 0) throw new ControlPlaneError(`k8s.io/kubernetes ${t.tree ? `in ${t.tree.dir}` : `@${t.version}`}: its go.mod names no staging modules; cannot derive replace lines`);
  const goVersion = goDirective(kubernetesGoMod) ?? '1.24';
  const stagingDirs = t.tree?.staging;
  const published = stagingDirs ? undefined : parseRelease(t.version);
  const lines = [
    '// Generated by asa-bench (src/controlplane/build.ts); do not edit.',
    `module asa-bench.local/${component}`,
    '',
    `go ${goVersion}`,
    '',
    // A tree at a release is required at that release (replaced by the folder all the same): Go's
    // -trimpath then names its packages k8s.io/kubernetes@vX.Y.Z as in the release build, so the
    // build cache reuses every package the tree has not changed. The staging modules likewise.
    `require k8s.io/kubernetes ${t.tree && !isRelease(t.version) ? 'v0.0.0' : t.version}`,
    ...(stagingDirs && isRelease(t.version) ? ['', 'require (', ...staging.map((m) => `\t${m} v0.${parseRelease(t.version).minor}.${parseRelease(t.version).patch}`), ')'] : []),
    '',
    'replace (',
    ...(t.tree ? [`\tk8s.io/kubernetes => ${t.tree.dir}`] : []),
    ...staging.map((m) => {
      if (stagingDirs) {
        const dir = stagingDirs[m];
        if (!dir) throw new ControlPlaneError(`${t.tree!.dir}: staging module ${m} is named in go.mod but its folder has no go.mod`);
        return `\t${m} => ${dir}`;
      }
      return `\t${m} => ${m} v0.${published!.minor}.${published!.patch}`;
    }),
    ')',
    '',
  ];
  return lines.join('\n');
}

/** The go.sum hash (`h1:…`) of k8s.io/kubernetes at a release, from the module proxy (or the module cache). */
export async function moduleSum(version: string): Promise<string> {
  const info = await downloadKubernetes(version, os.tmpdir(), () => {});
  if (!info.Sum) throw new ControlPlaneError(`k8s.io/kubernetes@${version}: the module proxy gave no hash`);
  return info.Sum;
}

async function downloadKubernetes(version: string, cwd: string, progress: Progress, signal?: AbortSignal): Promise<{ GoMod: string; Dir?: string; Sum?: string }> {
  const info = JSON.parse(await go(['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], cwd, progress, { quiet: true, allowFailure: true, signal })) as {
    GoMod?: string;
    Dir?: string;
    Sum?: string;
    Error?: string;
  };
  if (info.Error || !info.GoMod) throw new ControlPlaneError(`k8s.io/kubernetes@${version} is not available: ${info.Error ?? 'no go.mod'}`, 'pick a version the Go module proxy serves (go list -m -versions k8s.io/kubernetes)');
  return { ...info, GoMod: info.GoMod };
}

/** The wrapper's main package: mirrors upstream cmd/<component>/ (controlplane/<component>/main.go). */
async function buildComponent(component: Component, target: BuildTarget, output: string, progress: Progress, signal?: AbortSignal): Promise<void> {
  const dir = buildDir(`${component}-${target.key}`);
  await mkdir(dir, { recursive: true });
  const started = Date.now();
  const what = target.tree ? `${target.tree.dir} (${target.stampVersion})` : `k8s.io/kubernetes@${target.version}`;
  progress(`resolving ${what} for ${component}`);
  const upstreamGoMod = target.tree ? await readFile(path.join(target.tree.dir, 'go.mod'), 'utf8') : await readFile((await downloadKubernetes(target.version, dir, progress, signal)).GoMod, 'utf8');
  const env = toolchainEnv(goDirective(upstreamGoMod));
  await writeFile(path.join(dir, 'go.mod'), wrapperGoMod(target, upstreamGoMod, component));
  await rm(path.join(dir, 'go.sum'), { force: true });
  await copyFile(path.join(controlPlaneSourceDir(), component, 'main.go'), path.join(dir, 'main.go'));
  progress(`resolving dependencies (go mod tidy)`);
  await go(['mod', 'tidy'], dir, progress, { env, heartbeat: `resolving dependencies of ${component}`, signal });
  progress(`compiling ${component} ${target.stampVersion} (first time only; minutes on 2 cores)`);
  const pkg = 'k8s.io/component-base/version';
  const { minor } = parseRelease(/^v1\.\d+\.\d+/.exec(target.version)?.[0] ?? target.version);
  const ldflags = [
    '-s -w',
    `-X ${pkg}.gitVersion=${target.stampVersion}`,
    `-X ${pkg}.gitMajor=1`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=${target.tree ? 'dirty' : 'clean'}`,
    `-X ${pkg}.buildDate=${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
  ].join(' ');
  await buildInto(output, `${component} ${target.stampVersion}`, async (tmp) => {
    await go(['build', '-trimpath', '-ldflags', ldflags, '-o', tmp, '.'], dir, progress, { env, heartbeat: `compiling ${component} ${target.stampVersion}`, signal });
    return tmp;
  });
  const seconds = (Date.now() - started) / 1000;
  await writeFile(path.join(path.dirname(output), 'build.json'), JSON.stringify({ component, ...target, builtAt: new Date().toISOString(), seconds }, null, 2));
  progress(`built ${component} ${target.stampVersion} in ${seconds.toFixed(0)}s`);
}

export async function isBuilt(version: string): Promise<boolean> {
  try {
    await stat(componentPath('kube-apiserver', version));
    await stat(etcdPath());
    return true;
  } catch {
    return false;
  }
}

