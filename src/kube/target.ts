/**
 * Resolving a target: where the API server is and how to authenticate.
 * Credentials come from @kubernetes/client-node's KubeConfig (client certs,
 * tokens, exec plugins, OIDC), applied once to build the connection, never
 * per request.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TargetError } from '../types/errors.js';

export interface Connection {
  /** Origin of the API server, e.g. https://127.0.0.1:6443 */
  server: URL;
  /** Name of the kubeconfig context, or `local` for the embedded control plane. */
  context: string;
  local: boolean;
  tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized: boolean; servername?: string };
  /** Headers every request carries (Authorization from tokens or exec plugins). */
  headers: Readonly<Record<string, string>>;
  /**
   * Credential headers as of now, for credentials that change during a run
   * (exec plugins, auth providers, token files: EKS tokens last 15 minutes,
   * bound service-account tokens rotate). The library caches them until they
   * expire, so calling it is cheap; KubeClient calls it periodically and after a 401.
   */
  refreshHeaders?: () => Promise<Record<string, string>>;
}

/** Cluster name in kubeconfigs written for the embedded control plane. */
export const LOCAL_CLUSTER_NAME = 'asa-bench-local';

export interface KubeconfigTargetOptions {
  /**
   * One kubeconfig file, or the entries of $KUBECONFIG, merged as kubectl
   * merges them (the first file to define a name or a current-context wins;
   * entries that do not exist are skipped).
   */
  kubeconfig: string | readonly string[];
  context?: string;
  /** Set for the kubeconfig written by the embedded control plane. */
  local?: boolean;
  /**
   * Called with where the kubeconfig points before any credential is loaded:
   * exec plugins and OIDC refreshes run programs or talk to the network, so a
   * safety check that may refuse the target belongs here. Throw to stop.
   */
  beforeCredentials?: (target: TargetIdentity) => void;
}

/** Where a connection goes, known before its credentials are loaded. */
export type TargetIdentity = Pick<Connection, 'server' | 'context' | 'local'>;

/**
 * The first line of a library's error message. js-yaml appends a snippet of
 * the offending lines, which may hold a token or key from the kubeconfig.
 */
function firstLine(message: string): string {
  return message.split('\n').find((l) => l.trim() !== '')?.trim() ?? message;
}

/** The target is not chosen: no kubeconfig file at the paths given, or no current context in it. `lacks` is what to choose (the CLI says how). */
export class UnchosenTargetError extends TargetError {
  constructor(
    message: string,
    readonly lacks: 'kubeconfig' | 'context',
  ) {
    super(message);
  }
}

export async function connectionFromKubeconfig(options: KubeconfigTargetOptions): Promise<Connection> {
  const files = typeof options.kubeconfig === 'string' ? [options.kubeconfig] : options.kubeconfig;
  const kubeconfig = files.join(path.delimiter);
  const kc = await loadKubeconfig(files, kubeconfig);
  const { cluster, server } = currentCluster(kc, options.context, kubeconfig);
  const origin = new URL(server.origin + server.pathname.replace(/\/$/, ''));
  const contextName = kc.getCurrentContext();
  // The kubeconfig `asa-bench server up` writes names its cluster LOCAL_CLUSTER_NAME;
  // on loopback that is our own embedded control plane.
  const local = options.local ?? (cluster.name === LOCAL_CLUSTER_NAME && isLoopback(server));
  options.beforeCredentials?.({ server: origin, context: contextName, local });
  const { opts, headers, refreshHeaders } = await credentials(kc, contextName);
  return Object.freeze({
    ...(refreshHeaders ? { refreshHeaders } : {}),
    server: origin,
    context: contextName,
    local,
    tls: {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      // TLS verification stays on unless the kubeconfig itself says otherwise.
      rejectUnauthorized: cluster.skipTLSVerify !== true,
      servername: cluster.tlsServerName,
    },
    headers: Object.freeze(headers),
  });
}

/** The kubeconfig files that exist, each loaded, merged as kubectl does; `kubeconfig` names them all in messages. */
async function loadKubeconfig(files: readonly string[], kubeconfig: string): Promise<KubeConfigType> {
  const existing = files.filter((f) => existsSync(f));
  if (existing.length === 0) {
    throw new UnchosenTargetError(`kubeconfig ${kubeconfig} does not exist`, 'kubeconfig');
  }
  // Loaded on first use: the library brings its generated API models along (~90 MB of RSS),
  // which a run on the embedded control plane does not need (connectionForLocalControlPlane).
  const { KubeConfig } = await import('@kubernetes/client-node');
  const loaded = existing.map((file) => {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new TargetError(`kubeconfig ${file} cannot be read: ${firstLine((err as Error).message)}`, 'check that it is a valid kubeconfig YAML file', { cause: err });
    }
    return one;
  });
  return loaded.length === 1 ? loaded[0]! : mergeKubeconfigs(new KubeConfig(), loaded);
}

/** Switches to `context` when given; the current context's cluster and its server URL. */
function currentCluster(kc: KubeConfigType, context: string | undefined, kubeconfig: string): { cluster: NonNullable<ReturnType<KubeConfigType['getCurrentCluster']>>; server: URL } {
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new TargetError(`context "${context}" is not in ${kubeconfig}`, known.length > 0 ? `known contexts: ${known.join(', ')}` : 'the kubeconfig has no contexts');
    }
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new UnchosenTargetError(`kubeconfig ${kubeconfig} has no current cluster`, 'context');
  }
  try {
    return { cluster, server: new URL(cluster.server) };
  } catch {
    throw new TargetError(`cluster "${cluster.name}" has an invalid server URL: ${cluster.server}`, 'check the server URL in the kubeconfig');
  }
}

interface HttpsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  headers?: Record<string, string>;
  servername?: string;
}

/** The current user's TLS material and headers (lower-cased), and how to refresh headers that change (exec plugins, auth providers). */
async function credentials(kc: KubeConfigType, contextName: string): Promise<{ opts: HttpsOptions; headers: Record<string, string>; refreshHeaders?: () => Promise<Record<string, string>> }> {
  const opts: HttpsOptions = {};
  try {
    await kc.applyToHTTPSOptions(opts as never);
  } catch (err) {
    throw new TargetError(`cannot load credentials for context "${contextName}": ${firstLine((err as Error).message)}`, 'check the user entry of the kubeconfig (certificate files, exec plugin, token)', { cause: err });
  }
  const lowercase = (raw: Record<string, unknown> | undefined) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw ?? {})) out[k.toLowerCase()] = String(v);
    return out;
  };
  const user = kc.getCurrentUser();
  const changing = user !== null && (user.exec !== undefined || user.authProvider !== undefined);
  if (!changing) return { opts, headers: lowercase(opts.headers) };
  const refreshHeaders = async () => {
    const fresh: { headers?: Record<string, unknown> } = {};
    await kc.applyToHTTPSOptions(fresh as never);
    return lowercase(fresh.headers);
  };
  return { opts, headers: lowercase(opts.headers), refreshHeaders };
}

type KubeConfigType = import('@kubernetes/client-node').KubeConfig;

/**
 * kubectl's merge of several kubeconfig files (client-go clientcmd): the first
 * file to define a cluster, user or context name wins, and so does the first
 * current-context. (The library's own mergeConfig throws on a duplicate name
 * and lets the last current-context win.) Relative file paths were already
 * made absolute against each file's folder when it was loaded.
 */
function mergeKubeconfigs(into: KubeConfigType, files: readonly KubeConfigType[]): KubeConfigType {
  const firstByName = <T extends { name: string }>(lists: T[][]) => {
    const seen = new Map<string, T>();
    for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  into.loadFromOptions({
    clusters: firstByName(files.map((f) => f.getClusters())),
    users: firstByName(files.map((f) => f.getUsers())),
    contexts: firstByName(files.map((f) => f.getContexts())),
    currentContext: files.map((f) => f.getCurrentContext()).find((c) => c !== undefined && c !== '') ?? '',
  });
  return into;
}

/** Written next to the local control plane's kubeconfig, for asa-bench only. */
export const LOCAL_CONNECTION_FILE = 'connection.json';

/** The load user's credentials of an embedded control plane (src/controlplane/up.ts). */
export interface LocalConnectionFile {
  server: string;
  /** PEM of the server's self-signed CA. */
  ca: string;
  /** The load user's bearer token (kube-apiserver). */
  token?: string;
  /** PEM client certificate and key instead of a token (the CRD-only server authenticates client certificates only). */
  clientCert?: string;
  clientKey?: string;
  context: string;
}

/**
 * The connection to an embedded control plane, from the credentials it wrote
 * for asa-bench next to its kubeconfig; a control plane started by an older
 * asa-bench has only the kubeconfig, which is then read as any other.
 */
export async function connectionForLocalControlPlane(kubeconfig: string): Promise<Connection> {
  let file: LocalConnectionFile;
  try {
    file = JSON.parse(await readFile(path.join(path.dirname(kubeconfig), LOCAL_CONNECTION_FILE), 'utf8')) as LocalConnectionFile;
  } catch {
    return connectionFromKubeconfig({ kubeconfig, local: true });
  }
  return Object.freeze({
    server: new URL(file.server),
    context: file.context,
    local: true,
    tls: { ca: file.ca, ...(file.clientCert && file.clientKey ? { cert: file.clientCert, key: file.clientKey } : {}), rejectUnauthorized: true },
    headers: Object.freeze<Record<string, string>>(file.token ? { authorization: `Bearer ${file.token}` } : {}),
  });
}

/** True if the server URL's host is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(server: URL): boolean {
  const host = server.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
