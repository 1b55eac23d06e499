/**
 * Choosing and checking the target for commands that talk to a server:
 * a kubeconfig context, or the embedded local control plane. The safety
 * guard runs before any connection is made.
 */
import os from 'node:os';
import path from 'node:path';
import { acquireLocalTarget, type LocalTarget } from '../controlplane/local-target.js';
import { DEFAULT_SERVER_VERSION } from '../controlplane/paths.js';
import { KubeClient, RequestError } from '../kube/client.js';
import { connectionForLocalControlPlane, connectionFromKubeconfig, isLoopback, type Connection, type TargetIdentity } from '../kube/target.js';
import { resolveServerSpec, type ResolvedServer } from '../controlplane/resolve.js';
import { parseServerSpec, specFromShorthands, type ServerSpec } from '../controlplane/spec.js';
import { TargetError, UsageError } from '../types/errors.js';
import type { ServerRecord, TargetInfo } from '../types/results.js';
import type { Output } from './output.js';
import { durationOption } from './duration-option.js';

export interface TargetArgs {
  /** --kubeconfig, or (from `distribute`) the merged default files. */
  kubeconfig?: string | readonly string[];
  context?: string;
  /** The local control plane's server spec (src/controlplane/spec.ts). */
  server?: string;
  /** Shorthand for `--server vX.Y.Z` (no default here: the spec's default applies). */
  'server-version'?: string;
  /** A spec resolved by the caller (`ab` resolves both sides once, before anything starts). */
  resolvedServer?: ResolvedServer;
  yes?: boolean;
  http2?: boolean;
  connections?: number;
  /** Milliseconds (the option takes a duration). */
  'request-timeout'?: number;
  'apiserver-arg'?: string[];
}

/** The server under test on the local control plane: only the commands that build or start one take these. */
export const SERVER_OPTIONS = {
  server: {
    type: 'string',
    describe: `the server under test on the local control plane, a spec: v1.37.2 | source=DIR | binary=PATH, then controllers=kcm|none, storage=etcd|kine, flavour=full|crd-only, tenants=N, arg=--flag=value, version=vX.Y.Z (default ${DEFAULT_SERVER_VERSION},controllers=kcm,storage=etcd,flavour=full)`,
  },
  'server-version': { type: 'string', describe: `shorthand for --server vX.Y.Z (default ${DEFAULT_SERVER_VERSION})` },
} as const;

export const TARGET_OPTIONS = {
  ...SERVER_OPTIONS,
  kubeconfig: { type: 'string', describe: 'kubeconfig of a remote target (default: the embedded local control plane)' },
  context: { type: 'string', describe: 'kubeconfig context to use' },
  yes: { type: 'boolean', default: false, describe: 'allow writes to a non-local target (also: ASA_BENCH_ALLOW_CONTEXTS=ctx1,ctx2)' },
  connections: { type: 'number', default: 32, describe: 'HTTP connections to the API server (apart from concurrency)' },
  'request-timeout': durationOption('request-timeout', { default: '60s', bareUnit: 's', min: 1, describe: 'time before a request without a response counts as a timeout' }),
  http2: { type: 'boolean', default: false, describe: 'use HTTP/2 (multiplexed streams, as client-go does) instead of HTTP/1.1' },
  'apiserver-arg': { type: 'string', array: true, describe: 'extra kube-apiserver flag for the local control plane (repeatable; same as arg= in --server)' },
} as const;

/**
 * The spec of a command: `--server` if given, else the shorthand
 * `--server-version` (default v1.37.2); `--apiserver-arg` flags are appended
 * to the spec's args either way. `--server` and `--server-version` together
 * are a conflict.
 */
export function specFromFlags(flags: { server?: string; serverVersion?: string; apiserverArgs?: readonly string[] }, flag = '--server'): ServerSpec {
  if (flags.server !== undefined && flags.serverVersion !== undefined) {
    throw new UsageError(`${flag} and --server-version both name the server; give one`, `e.g. ${flag} ${flags.serverVersion},…`);
  }
  if (flags.server === undefined) return parseServerSpec(specFromShorthands(flags.serverVersion, flags.apiserverArgs), flags.serverVersion !== undefined ? '--server-version' : flag);
  return parseServerSpec([flags.server, ...(flags.apiserverArgs ?? []).map((a) => `arg=${a}`)].join(','), flag);
}

/** The spec the flags name: `--server`, or the shorthands `--server-version` and `--apiserver-arg`. */
export function serverSpecFromArgs(args: Pick<TargetArgs, 'server' | 'server-version' | 'apiserver-arg'>): ServerSpec {
  return specFromFlags({ server: args.server, serverVersion: args['server-version'], apiserverArgs: args['apiserver-arg'] });
}

/**
 * Parses and resolves the local control plane's spec (a UsageError before
 * anything starts), or undefined for a kubeconfig target.
 */
export async function resolveLocalServer(args: TargetArgs): Promise<ResolvedServer | undefined> {
  const remote = args.kubeconfig !== undefined || args.context !== undefined;
  if (remote) {
    if (args.server !== undefined) throw new UsageError('--server names the local control plane; with --kubeconfig/--context the target is that cluster', 'drop --server, or drop --kubeconfig/--context');
    return undefined;
  }
  return args.resolvedServer ?? (await resolveServerSpec(serverSpecFromArgs(args)));
}

/** kubectl's default: every entry of $KUBECONFIG, merged (an empty KUBECONFIG means unset), else ~/.kube/config. */
export function defaultKubeconfigs(): string | string[] {
  const entries = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '');
  return entries.length > 0 ? entries : path.join(os.homedir(), '.kube', 'config');
}

export interface ResolvedTarget {
  /** Folder of the local control plane's logs, when the target is one this process uses. */
  localDir?: string;
  /** The local control plane's etcd client URL (`run --profile` reads etcd's pprof there). */
  etcdUrl?: string;
  /** The local control plane's server spec as given and resolved. */
  server?: ServerRecord;
  /** This process started the control plane and stops it (with all its data) on release. */
  ephemeral: boolean;
  connection: Connection;
  client: KubeClient;
  info: TargetInfo;
  /** The local control plane's storage process (its /metrics are sampled over a run). */
  storage?: LocalTarget['storage'];
  /** `tenants=N`: one client per tenant's API server; the first is `client`. */
  tenants?: { index: number; prefix: string; connection: Connection; client: KubeClient }[];
  release(): Promise<void>;
}

/**
 * Writes go only to the local control plane, a loopback server, or a context
 * the user allowed: refused before any connection is attempted, and before
 * credentials are loaded (exec plugins and OIDC refreshes reach out too).
 */
export function checkWriteAllowed(connection: TargetIdentity, yes: boolean): void {
  if (connection.local || isLoopback(connection.server) || yes) return;
  const allowed = (process.env.ASA_BENCH_ALLOW_CONTEXTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (allowed.includes(connection.context)) return;
  throw new TargetError(
    `refusing to create load on ${connection.server.origin} (context "${connection.context}"): it is not the local control plane or a loopback server`,
    `if you mean it, pass --yes or set ASA_BENCH_ALLOW_CONTEXTS=${connection.context}`,
  );
}

/** `options.signal` (Ctrl-C) stops a build of the local control plane under way. */
export async function resolveTarget(args: TargetArgs, out: Output, options: { writes: boolean; signal?: AbortSignal }): Promise<ResolvedTarget> {
  let connection: Connection;
  let release: () => Promise<void> = async () => {};
  let localDir: string | undefined;
  let etcdUrl: string | undefined;
  let ephemeral = false;
  let server: ServerRecord | undefined;
  let local: LocalTarget | undefined;
  const clientOptions = { connections: args.connections ?? 32, http2: args.http2 ?? false, timeoutMs: args['request-timeout'] ?? 60_000 };
  const resolved = await resolveLocalServer(args);
  if (!resolved) {
    const kubeconfig = args.kubeconfig ?? defaultKubeconfigs();
    connection = await connectionFromKubeconfig({
      kubeconfig,
      context: args.context,
      beforeCredentials: options.writes ? (where) => checkWriteAllowed(where, args.yes ?? false) : undefined,
    });
  } else {
    local = await acquireLocalTarget(resolved, out.reporter, {}, options.signal);
    server = local.server;
    release = local.release;
    localDir = local.dir;
    etcdUrl = local.etcdUrl;
    ephemeral = local.ephemeral;
    try {
      connection = await connectionForLocalControlPlane(local.kubeconfig);
    } catch (err) {
      await release();
      throw err;
    }
  }
  const client = new KubeClient(connection, clientOptions);
  const tenants: NonNullable<ResolvedTarget['tenants']> = [];
  const releaseAll = async () => {
    await client.close();
    for (const t of tenants) if (t.client !== client) await t.client.close();
    await release();
  };
  try {
    const version = await getVersion(client);
    for (const t of local?.tenants ?? []) {
      const tenantConnection = t.index === 1 ? connection : await connectionForLocalControlPlane(t.kubeconfig);
      tenants.push({ index: t.index, prefix: t.prefix, connection: tenantConnection, client: t.index === 1 ? client : new KubeClient(tenantConnection, clientOptions) });
    }
    return {
      localDir,
      etcdUrl,
      ...(server ? { server } : {}),
      ephemeral,
      connection,
      client,
      info: { server: connection.server.href.replace(/\/$/, ''), context: connection.context, local: connection.local, version },
      ...(local?.storage ? { storage: local.storage } : {}),
      ...(tenants.length > 0 ? { tenants } : {}),
      release: releaseAll,
    };
  } catch (err) {
    await releaseAll();
    throw targetProblem(connection, err);
  }
}

/** One clear line for the usual ways a target fails before load starts. */
function targetProblem(connection: Connection, err: unknown): TargetError {
  const where = connection.server.href.replace(/\/$/, '');
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  if (err instanceof RequestError && err.status === 401) {
    return new TargetError(`${where} rejected the credentials of context "${connection.context}" (401 Unauthorized)`, 'the token or client certificate may have expired; refresh your kubeconfig');
  }
  if (err instanceof RequestError && err.status === 403) {
    return new TargetError(`${where} denied GET /version to context "${connection.context}" (403 Forbidden)`, 'the user needs at least read access to /version and the resources in the scenario');
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new TargetError(`TLS verification of ${where} failed (${code})`, "the kubeconfig's certificate-authority does not match the server's certificate");
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TargetError(`cannot resolve the host of ${where}`, 'check the server URL in the kubeconfig');
  }
  if (/^ERR_SSL_|^EPROTO$/.test(code)) {
    return new TargetError(`TLS handshake with ${where} failed (${code})`, 'is the server URL right? the server may not speak HTTPS on that port');
  }
  if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new TargetError(`cannot connect to ${where} (${code})`, 'is the API server running and reachable from here?');
  }
  // One line: library messages can carry OpenSSL traces or a whole HTML error page.
  const message = ((err as Error).message ?? String(err)).split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return new TargetError(`cannot query ${where}/version: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`, 'is the server URL that of a Kubernetes API server?');
}

/**
 * GET /version, honouring 429 + Retry-After a few times as client-go does: a
 * server with very few flow-control seats (or one still running its post-start
 * hooks) can throttle even this first request.
 */
async function getVersion(client: KubeClient): Promise<TargetInfo['version']> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.getJson<TargetInfo['version']>('/version');
    } catch (err) {
      if (!(err instanceof RequestError) || err.status !== 429 || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
