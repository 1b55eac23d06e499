/**
 * From a parsed spec to what will be built and run: checks what the spec
 * points at (a tree with cmd/kube-apiserver, an executable binary), finds the
 * tree's version and content hash or the binary's sha256, and derives the
 * build-cache key and the label that results carry. A spec that cannot be
 * honoured fails here, with one UsageError, before anything is built or started.
 */
import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../types/errors.js';
import type { ServerRecord } from '../types/results.js';
import { formatServerSpec, isRelease, type ServerSpec } from './spec.js';
import { dirhash1, hashCheckout, inspectTree, isGitTop, sha256File, treeVersion, type TreeLayout } from './tree.js';
import { moduleSum } from './build.js';
import { crdOnlyBuildKey } from './crd-only.js';
import { asaHome } from './paths.js';

const run = promisify(execFile);

/** A source tree as the build uses it. */
export interface ResolvedSource {
  dir: string;
  layout: TreeLayout;
  /** Checkout layout: k8s.io/<name> → its ./staging folder. */
  staging: Record<string, string>;
  versionFrom: string;
  git?: { describe: string; head: string; dirty: boolean };
  hash: string;
  hashMethod: string;
  patched?: boolean;
}

/** What to build and run for a spec; frozen. */
export interface ResolvedServer {
  readonly spec: ServerSpec;
  /** The Kubernetes release it is based on (staging modules, kube-controller-manager). */
  readonly version: string;
  /** What a build stamps into /version (k8s.io/component-base/version.gitVersion). */
  readonly stampVersion: string;
  readonly source?: ResolvedSource;
  /** binary=: the prebuilt kube-apiserver and its sha256. */
  readonly binary?: { path: string; sha256: string };
  /** The build-cache key of kube-apiserver and kube-controller-manager (a folder name). */
  readonly buildKey: string;
  /** Short heading for tables: `v1.37.2`, `source=kubernetes (patched, 3f2a9c1e)`. */
  readonly label: string;
}

export async function resolveServerSpec(spec: ServerSpec): Promise<ResolvedServer> {
  switch (spec.kind) {
    case 'source':
      return freeze(await resolveSource(spec));
    case 'binary':
      return freeze(await resolveBinary(spec));
    default:
      // The CRD-only server is its own build (the release's apiextensions module and our wrapper).
      return freeze({ spec, version: spec.version!, stampVersion: spec.version!, buildKey: spec.flavour === 'crd-only' ? crdOnlyBuildKey(spec.version!) : spec.version!, label: formatServerSpec(spec) });
  }
}

function freeze(r: ResolvedServer): ResolvedServer {
  if (r.source) Object.freeze(r.source);
  if (r.binary) Object.freeze(r.binary);
  return Object.freeze(r);
}

/** The spec's options as text (`,controllers=none,arg=…`), for labels. */
function optionsSuffix(spec: ServerSpec): string {
  const items = formatServerSpec(spec).split(',').slice(1).filter((i) => !i.startsWith('version='));
  return items.length > 0 ? `,${items.join(',')}` : '';
}

async function resolveSource(spec: ServerSpec): Promise<ResolvedServer> {
  const dir = spec.source!;
  const tree = await inspectTree(dir);
  let source: ResolvedSource;
  if (await isGitTop(dir)) {
    const { hash, git } = await hashCheckout(dir);
    const { version, from } = await treeVersion(dir, tree.layout, spec.version, git.describe);
    source = { dir, layout: tree.layout, staging: tree.staging, versionFrom: from, git, hash, hashMethod: 'git HEAD + diff + untracked files (sha256)', patched: git.dirty ? true : undefined };
    return withSource(spec, version, source);
  }
  const { version, from } = await treeVersion(dir, tree.layout, spec.version, undefined);
  const hash = await dirhash1(dir, `k8s.io/kubernetes@${version}`, path.join(asaHome(), 'tree-hash', `${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.json`));
  // Go's module hash of every file: equal to the proxy's go.sum line iff the tree is the published release.
  const published = tree.layout === 'module' && isRelease(version) ? await moduleSum(version).catch(() => undefined) : undefined;
  source = {
    dir,
    layout: tree.layout,
    staging: tree.staging,
    versionFrom: from,
    hash,
    hashMethod: 'go dirhash h1 of every file',
    patched: published === undefined ? undefined : published !== hash,
  };
  return withSource(spec, version, source);
}

function withSource(spec: ServerSpec, version: string, source: ResolvedSource): ResolvedServer {
  if (source.layout === 'module' && !isRelease(version)) {
    throw new UsageError(`source=${source.dir}: a tree without ./staging takes its staging modules from the module proxy, which needs a release, not ${version}`, `add version=v1.37.2 (the release the tree was copied from)`);
  }
  const hex = createHash('sha256').update(`${source.layout}\n${version}\n${source.hash}`).digest('hex');
  const short = hex.slice(0, 8);
  const state = source.git ? `${source.git.describe}${source.patched ? ', patched' : ''}, ${short}` : `${source.patched === undefined ? 'unknown' : source.patched ? 'patched' : 'unpatched'}, ${short}`;
  const release = /^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?/.exec(version)?.[0] ?? version;
  return {
    spec,
    version: release,
    // Build metadata (after +) keeps the release's ordering for compatibility-version checks.
    stampVersion: `${release.replace(/-dirty$/, '')}+src.${short}`,
    source,
    buildKey: `source-${hex.slice(0, 16)}`,
    label: `source=${path.basename(source.dir)} (${state})${optionsSuffix(spec)}`,
  };
}

async function resolveBinary(spec: ServerSpec): Promise<ResolvedServer> {
  const file = spec.binary!;
  const isFile = await stat(file).then((s) => s.isFile(), () => false);
  if (!isFile) throw new UsageError(`binary=${file}: no such file`, 'binary= takes the path of a kube-apiserver executable');
  const executable = await access(file, constants.X_OK).then(() => true, () => false);
  if (!executable) throw new UsageError(`binary=${file}: not executable`, `chmod +x ${file}`);
  const reported = await binaryVersion(file);
  const release = spec.version ?? (reported && /^(v1\.\d+\.\d+)(?:\+[0-9A-Za-z.-]+)?$/.exec(reported)?.[1]);
  if (!release && spec.controllers === 'kcm') {
    throw new UsageError(
      `binary=${file}: it reports ${reported ? `version ${reported}` : 'no version'}, so the release to build kube-controller-manager from is unknown`,
      `add version=v1.37.2 to the spec, or controllers=none`,
    );
  }
  const sha256 = await sha256File(file);
  const key = createHash('sha256').update(`binary\n${sha256}`).digest('hex');
  return {
    spec,
    version: release ?? reported ?? 'unknown',
    stampVersion: reported ?? 'unknown',
    binary: { path: file, sha256 },
    buildKey: `binary-${key.slice(0, 16)}`,
    label: `binary=${path.basename(file)} (sha256 ${sha256.slice(0, 8)})${optionsSuffix(spec)}`,
  };
}

/** What `kube-apiserver --version` prints (`Kubernetes v1.37.2`), or undefined. */
async function binaryVersion(file: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(file, ['--version'], { timeout: 15_000 });
    return /Kubernetes\s+(v\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** What results record about the server: the spec as given and as resolved, and the binaries as run. */
export function serverRecord(
  resolved: ResolvedServer,
  built: { kubeApiserver: string; kubeApiserverSha256: string; kubeControllerManager?: string; kubeControllerManagerSha256?: string; kine?: string; kineSha256?: string },
): ServerRecord {
  const { spec, source } = resolved;
  return {
    given: spec.given,
    spec: formatServerSpec(spec),
    label: resolved.label,
    kind: spec.kind,
    version: resolved.version,
    ...(source
      ? {
          source: {
            dir: source.dir,
            layout: source.layout,
            versionFrom: source.versionFrom,
            ...(source.git ? { git: source.git } : {}),
            hash: source.hash,
            hashMethod: source.hashMethod,
            ...(source.patched !== undefined ? { patched: source.patched } : {}),
          },
        }
      : {}),
    kubeApiserver: { path: built.kubeApiserver, sha256: built.kubeApiserverSha256 },
    controllers: spec.controllers,
    ...(built.kubeControllerManager ? { kubeControllerManager: { path: built.kubeControllerManager, sha256: built.kubeControllerManagerSha256! } } : {}),
    args: [...spec.args],
    buildKey: resolved.buildKey,
    storage: spec.storage,
    ...(built.kine ? { kine: { path: built.kine, sha256: built.kineSha256! } } : {}),
    flavour: spec.flavour,
    tenants: spec.tenants,
  };
}
