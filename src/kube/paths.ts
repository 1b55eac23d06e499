/**
 * REST paths of the resources asa-bench touches. Built once per CRD when a
 * plan is compiled; per request only a name (or a query, query.ts) changes.
 * Plain ECMAScript, no Node API: also bundled into k6 scripts (export/k6-script).
 */

export const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
export const NAMESPACES_PATH = '/api/v1/namespaces';

/** Media type of aggregated discovery (KEP-3352), GA since Kubernetes 1.30. */
export const AGGREGATED_DISCOVERY_ACCEPT =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

export interface ResourceAddress {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

/** Collection path in one namespace (or cluster-wide for cluster-scoped resources / `namespace` undefined). */
export function collectionPath(r: ResourceAddress, namespace: string | undefined): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return r.namespaced && namespace !== undefined ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export function objectPath(r: ResourceAddress, namespace: string | undefined, name: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}
