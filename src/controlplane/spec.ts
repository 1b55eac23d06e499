/**
 * The server under test as one spec string: what to run first (a release
 * `v1.37.2`, a tree `source=DIR`, or a prebuilt `binary=PATH`), then
 * `key=value` options, comma-separated:
 *
 *   v1.37.2
 *   v1.37.2,controllers=none
 *   source=../kubernetes,arg=--watch-cache=false
 *   binary=/opt/k8s/kube-apiserver,version=v1.37.2,arg=--max-requests-inflight=5
 *
 * Keys are rows of one table (SPEC_KEYS): a new key is a new row and a new
 * field, never a new syntax (`storage=`, `flavour=`, `tenants=` came that way). This module
 * only parses and checks values (no file system): `resolveServerSpec`
 * (src/controlplane/resolve.ts) then checks what the spec points at. The
 * result is frozen and validated once; everything after reads it.
 */
import path from 'node:path';
import { UsageError } from '../types/errors.js';
import { DEFAULT_SERVER_VERSION } from './paths.js';

/** What runs as the API server. */
export type ServerKind = 'version' | 'source' | 'binary';
/** Whether kube-controller-manager runs beside the API server. */
export type Controllers = 'kcm' | 'none';

/** A parsed spec: values checked, nothing on disk looked at yet. */
export interface ServerSpec {
  /** The spec as the user wrote it (or as the shorthand flags spell it). */
  readonly given: string;
  readonly kind: ServerKind;
  /**
   * The Kubernetes release: for `version`, what to build; for `source`, the
   * tree's version when it cannot be found in the tree (`version=`); for
   * `binary`, the release kube-controller-manager is built from when the
   * binary does not report one (`version=`).
   */
  readonly version?: string;
  /** `source=`: a k8s.io/kubernetes tree (absolute path). */
  readonly source?: string;
  /** `binary=`: a prebuilt kube-apiserver (absolute path). */
  readonly binary?: string;
  readonly controllers: Controllers;
  /** Extra kube-apiserver flags, in order. */
  readonly args: readonly string[];
  /** `storage=`: etcd 3.6 (default) or kine over SQLite (src/controlplane/kine.ts). */
  readonly storage: Storage;
  /** `flavour=`: kube-apiserver (`full`, default) or the CRD-only server (src/controlplane/crd-only.ts). */
  readonly flavour: Flavour;
  /** `tenants=`: API servers on the one storage, each under --etcd-prefix=/tenant-<i> (default 1). */
  readonly tenants: number;
}

export type Storage = 'etcd' | 'kine';
export type Flavour = 'full' | 'crd-only';
/** `tenants=N` above this is refused: each kube-apiserver takes ~250 MB and a share of the cores. */
export const MAX_TENANTS = 16;

type Draft = { -readonly [K in keyof ServerSpec]: ServerSpec[K] } & { args: string[] };

/** One key of the spec: how its value is checked and where it goes. */
export interface SpecKey {
  /** One line for --help and README. */
  readonly describe: string;
  /** A whole spec using the key, for --help and README. */
  readonly example: string;
  /** May appear more than once (values accumulate in order). */
  readonly repeatable?: boolean;
  /** Says what runs as the API server (at most one such key, and first). */
  readonly selectsServer?: boolean;
  /** Checks the value and writes it into the draft; returns a problem, or undefined. */
  set(draft: Draft, value: string): string | undefined;
}

const RELEASE = /^v1\.(\d+)\.(\d+)$/;

/** A Kubernetes release such as v1.37.2 (what the Go module proxy serves as k8s.io/kubernetes). */
export function isRelease(version: string): boolean {
  return RELEASE.test(version);
}

export function parseRelease(version: string): { minor: number; patch: number } {
  const m = RELEASE.exec(version);
  if (!m) throw new UsageError(`${version}: expected a Kubernetes release such as ${DEFAULT_SERVER_VERSION}`);
  return { minor: Number(m[1]), patch: Number(m[2]) };
}

const nonEmptyPath = (what: string) => (value: string) => (value.trim() === '' ? `${what}: expected a path` : undefined);

/**
 * The keys a spec understands. To add one: a row here, a field on ServerSpec,
 * and (if it changes what is built) a part of the build key in resolve.ts.
 */
export const SPEC_KEYS: Readonly<Record<string, SpecKey>> = Object.freeze({
  source: {
    describe: 'a k8s.io/kubernetes source tree (a git checkout with staging/, or a copy of the module source); built like a release',
    example: 'source=$HOME/src/k8s.io/kubernetes',
    selectsServer: true,
    set(d, v) {
      const problem = nonEmptyPath('source')(v);
      if (problem) return problem;
      d.kind = 'source';
      d.source = path.resolve(v);
      return undefined;
    },
  },
  binary: {
    describe: 'a prebuilt kube-apiserver binary',
    example: 'binary=/opt/k8s/kube-apiserver',
    selectsServer: true,
    set(d, v) {
      const problem = nonEmptyPath('binary')(v);
      if (problem) return problem;
      d.kind = 'binary';
      d.binary = path.resolve(v);
      return undefined;
    },
  },
  version: {
    describe: 'the Kubernetes release (alone: what to build; with source=: the tree\'s version when the tree does not tell; with binary=: what kube-controller-manager is built from)',
    example: 'source=/tmp/k8s-copy,version=v1.37.2',
    set(d, v) {
      if (!isRelease(v)) return `version=${v}: expected a Kubernetes release such as ${DEFAULT_SERVER_VERSION}`;
      d.version = v;
      return undefined;
    },
  },
  controllers: {
    describe: 'kcm (default): kube-controller-manager runs beside the API server, as in a cluster; none: the bare API server',
    example: 'v1.37.2,controllers=none',
    set(d, v) {
      if (v !== 'kcm' && v !== 'none') return `controllers=${v}: expected kcm or none`;
      d.controllers = v;
      return undefined;
    },
  },
  storage: {
    describe: 'etcd (default): etcd 3.6; kine: kine v0.17.5 over SQLite (k3s\'s storage), built and started the same way',
    example: 'v1.37.2,storage=kine',
    set(d, v) {
      if (v !== 'etcd' && v !== 'kine') return `storage=${v}: expected etcd or kine`;
      d.storage = v;
      return undefined;
    },
  },
  flavour: {
    describe: 'full (default): kube-apiserver; crd-only: the CRD API server alone (k8s.io/apiextensions-apiserver of the release: CRDs and custom objects, no core API, no controllers)',
    example: 'v1.37.2,flavour=crd-only',
    set(d, v) {
      if (v !== 'full' && v !== 'crd-only') return `flavour=${v}: expected full or crd-only`;
      d.flavour = v;
      return undefined;
    },
  },
  tenants: {
    describe: `N API servers on one storage, each under --etcd-prefix=/tenant-<i>; the scenario runs on every tenant at once (1 to ${MAX_TENANTS})`,
    example: 'v1.37.2,tenants=3',
    set(d, v) {
      const n = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!(n >= 1 && n <= MAX_TENANTS)) return `tenants=${v}: expected a whole number from 1 to ${MAX_TENANTS}`;
      d.tenants = n;
      return undefined;
    },
  },
  arg: {
    describe: 'an extra kube-apiserver flag (repeatable)',
    example: 'v1.37.2,arg=--watch-cache=false,arg=--max-requests-inflight=50',
    repeatable: true,
    set(d, v) {
      if (!/^--[a-z0-9][a-z0-9-]*(=|$)/.test(v)) return `arg=${v}: expected a kube-apiserver flag such as --watch-cache=false`;
      d.args.push(v);
      return undefined;
    },
  },
});

/** A token that starts a new `key=value` item (keys are lower case; flag values such as feature gates are not). */
const KEY_TOKEN = /^([a-z][a-z0-9-]*)=(.*)$/s;

/**
 * Splits on commas, except that a piece which is neither a `key=` nor a
 * release continues the `arg=` before it: `arg=--feature-gates=A=true,B=false`
 * keeps its comma.
 */
function splitItems(text: string): string[] {
  const items: string[] = [];
  for (const piece of text.split(',')) {
    const prev = items[items.length - 1];
    if (prev !== undefined && prev.startsWith('arg=') && !KEY_TOKEN.test(piece) && !isRelease(piece) && piece !== '') {
      items[items.length - 1] = `${prev},${piece}`;
    } else {
      items.push(piece);
    }
  }
  return items;
}

/** Parses and checks a spec; throws one UsageError naming every problem, after `label` (the CLI passes the flag that gave it). */
export function parseServerSpec(text: string, label = 'server spec'): ServerSpec {
  const given = text.trim();
  const draft: Draft = { given, kind: 'version', controllers: 'kcm', args: [], storage: 'etcd', flavour: 'full', tenants: 1 };
  const problems: string[] = [];
  const seen = new Set<string>();
  const items = given === '' ? [] : splitItems(given);
  items.forEach((item, index) => {
    if (item === '') return problems.push('empty item (two commas in a row?)');
    if (isRelease(item)) {
      if (index !== 0) return problems.push(`${item}: a release goes first (or write version=${item})`);
      seen.add('version');
      draft.version = item;
      return;
    }
    const m = KEY_TOKEN.exec(item);
    const key = m ? SPEC_KEYS[m[1]!] : undefined;
    if (!m || !key) {
      const name = m?.[1] ?? item;
      return problems.push(`unknown ${m ? 'key' : 'item'} "${name}": expected a release (${DEFAULT_SERVER_VERSION}) or one of ${Object.keys(SPEC_KEYS).map((k) => `${k}=`).join(', ')}`);
    }
    const name = m[1]!;
    if (seen.has(name) && !key.repeatable) return problems.push(`${name}= given twice`);
    if (key.selectsServer) {
      if (draft.kind !== 'version') return problems.push(`${name}=: only one of source=, binary= (what runs as the API server)`);
      if (index !== 0) return problems.push(`${name}=: what runs as the API server goes first`);
    }
    seen.add(name);
    const problem = key.set(draft, m[2]!);
    if (problem) problems.push(problem);
  });
  if (draft.kind === 'version' && draft.version === undefined) draft.version = DEFAULT_SERVER_VERSION;
  problems.push(...crdOnlyProblems(draft, seen));
  if (problems.length > 0) {
    throw new UsageError(`${label} ${given}: ${problems.join('; ')}`, 'a spec is e.g. v1.37.2,controllers=none or source=DIR,arg=--watch-cache=false (see README "The server under test")');
  }
  return freeze(draft);
}

/**
 * The CRD-only server is built from a release's k8s.io/apiextensions-apiserver
 * (not from a tree or a binary) and has no core API for kube-controller-manager
 * to work on: it runs without controllers (`controllers=kcm` asked outright is refused).
 */
function crdOnlyProblems(draft: Draft, seen: ReadonlySet<string>): string[] {
  if (draft.flavour !== 'crd-only') return [];
  const problems: string[] = [];
  if (draft.kind !== 'version') problems.push(`flavour=crd-only: builds k8s.io/apiextensions-apiserver of a release; it cannot take ${draft.kind}=`);
  if (seen.has('controllers') && draft.controllers === 'kcm') problems.push('flavour=crd-only: kube-controller-manager needs the core API, which the CRD-only server lacks (leave out controllers=, or write controllers=none)');
  draft.controllers = 'none';
  return problems;
}

function freeze(draft: Draft): ServerSpec {
  const spec: ServerSpec = { ...draft, args: Object.freeze([...draft.args]) };
  for (const k of Object.keys(spec) as (keyof ServerSpec)[]) if (spec[k] === undefined) delete (spec as Partial<Draft>)[k];
  return Object.freeze(spec);
}

/** The shorthands (a version and extra API server flags) spelled as a spec. */
export function specFromShorthands(version: string | undefined, apiserverArgs: readonly string[] = []): string {
  return [version ?? DEFAULT_SERVER_VERSION, ...apiserverArgs.map((a) => `arg=${a}`)].join(',');
}

/** The spec written back as text, in canonical order (for records and labels). */
export function formatServerSpec(spec: ServerSpec): string {
  const head = spec.kind === 'source' ? `source=${spec.source}` : spec.kind === 'binary' ? `binary=${spec.binary}` : spec.version!;
  const items = [head];
  if (spec.kind !== 'version' && spec.version) items.push(`version=${spec.version}`);
  if (spec.storage !== 'etcd') items.push(`storage=${spec.storage}`);
  if (spec.flavour !== 'full') items.push(`flavour=${spec.flavour}`);
  if (spec.tenants !== 1) items.push(`tenants=${spec.tenants}`);
  // The CRD-only server never has controllers: saying so again would only clutter its label.
  if (spec.controllers !== 'kcm' && spec.flavour !== 'crd-only') items.push(`controllers=${spec.controllers}`);
  for (const a of spec.args) items.push(`arg=${a}`);
  return items.join(',');
}
