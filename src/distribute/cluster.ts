/**
 * The few API calls `distribute` makes with the user's credentials: create
 * (optionally as a server-side dry run), get, delete, list pods, read a pod's
 * log. Built on the same KubeClient as the engine; errors are RequestErrors
 * with the server's Status message.
 */
import { JSON_HEADERS, RequestError, type KubeClient } from '../kube/client.js';
import { withQuery } from '../kube/query.js';
import type { KubeObject } from './manifests.js';

/** REST collection of each kind `distribute` creates or reads: [prefix, plural, namespaced]. */
const KINDS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  'v1/Namespace': { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  'v1/ServiceAccount': { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  'v1/ConfigMap': { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  'v1/Pod': { prefix: '/api/v1', plural: 'pods', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
  'batch/v1/Job': { prefix: '/apis/batch/v1', plural: 'jobs', namespaced: true },
};

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export function refOf(object: KubeObject): ObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}) };
}

/** `Kind name` or `Kind namespace/name`, for messages. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

export function collectionPathOf(ref: Omit<ObjectRef, 'name'>): string {
  const kind = KINDS[`${ref.apiVersion}/${ref.kind}`];
  if (!kind) throw new Error(`no REST path known for ${ref.apiVersion} ${ref.kind}`);
  if (kind.namespaced && !ref.namespace) throw new Error(`${ref.kind} needs a namespace`);
  return kind.namespaced ? `${kind.prefix}/namespaces/${ref.namespace}/${kind.plural}` : `${kind.prefix}/${kind.plural}`;
}

export function objectPathOf(ref: ObjectRef): string {
  return `${collectionPathOf(ref)}/${encodeURIComponent(ref.name)}`;
}

export class ClusterApi {
  constructor(readonly client: KubeClient) {}

  /** POST; with `dryRun`, the server validates and admits the object but stores nothing (`?dryRun=All`). */
  async create<T extends KubeObject>(object: KubeObject, options: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    const path = withQuery(collectionPathOf(refOf(object)), { dryRun: options.dryRun ? 'All' : undefined, fieldManager: 'asa-bench' });
    const res = await this.client.expectOk({ method: 'POST', path, headers: this.client.headers(JSON_HEADERS), body: JSON.stringify(object), signal: options.signal });
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(ref: ObjectRef, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.client.getJson<T>(objectPathOf(ref), signal);
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** DELETE; `absent` when it was already gone. Background propagation: dependents (a Job's pods) go through the garbage collector. */
  async delete(ref: ObjectRef, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    const res = await this.client.send({
      method: 'DELETE',
      path: objectPathOf(ref),
      headers: this.client.headers(JSON_HEADERS),
      body: JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' }),
      signal,
    });
    if (res.status === 404) return 'absent';
    if (res.status >= 300) {
      const text = res.body.toString('utf8');
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not a Status body
      }
      throw new RequestError(`DELETE ${objectPathOf(ref)}: HTTP ${res.status}: ${message}`, `http-${res.status}`, res.status, text);
    }
    return 'deleted';
  }

  async listPods<T>(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<T[]> {
    const list = await this.client.getJson<{ items: T[] }>(withQuery(collectionPathOf({ apiVersion: 'v1', kind: 'Pod', namespace }), { labelSelector }), signal);
    return list.items;
  }

  /** The whole log of one container (stdout and stderr, as the kubelet keeps it). */
  async podLog(namespace: string, pod: string, container: string, signal?: AbortSignal): Promise<string> {
    const path = withQuery(`${objectPathOf({ apiVersion: 'v1', kind: 'Pod', namespace, name: pod })}/log`, { container });
    const res = await this.client.expectOk({ method: 'GET', path, headers: this.client.headers({ accept: 'text/plain, */*' }), signal });
    return res.body.toString('utf8');
  }
}
