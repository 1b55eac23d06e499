/**
 * What the server under test serves, probed once before a run, and what the
 * run therefore leaves out. A server without the core API (the CRD-only API
 * server of `flavour=crd-only`, or any apiextensions-apiserver) has no `/api`
 * and no Namespace objects, but still serves namespaced custom objects under
 * any namespace name. Skipped work is a result fact (RunInfo.skipped), so the
 * report says it and a comparison with a full server is read for what it is.
 */
import { JSON_HEADERS, type KubeClient } from '../kube/client.js';
import type { Plan } from '../scenarios/plan.js';

export interface ServerCapabilities {
  /** `/api` (the core group: namespaces, and the legacy half of discovery) is served. */
  coreApi: boolean;
}

/** GET /api: a 404 means no core API; anything else (even an error) keeps the full behaviour, so real failures still show. */
export async function probeCapabilities(client: KubeClient, signal?: AbortSignal): Promise<ServerCapabilities> {
  const res = await client.send({ method: 'GET', path: '/api', headers: client.headers(JSON_HEADERS), signal }).catch(() => undefined);
  return { coreApi: res?.status !== 404 };
}

/** One sentence per part of the plan the server's missing APIs leave out (none for a full server). */
export function skippedWork(plan: Plan, capabilities: ServerCapabilities): string[] {
  if (capabilities.coreApi) return [];
  const skipped: string[] = [];
  const kinds = new Set(plan.phases.map((p) => (p.doc.op === 'discovery' ? `discovery.${p.doc.mode}` : p.doc.op)));
  if (plan.scenario.generate.objects && plan.scenario.generate.crds?.scope !== 'Cluster') {
    skipped.push('namespaces: not created or deleted (the server has no core API; its custom objects are stored under namespace names without Namespace objects)');
  }
  if (kinds.has('discovery.aggregated')) skipped.push('discovery.aggregated: GET /api left out (no core API); the figures are /apis alone');
  if (kinds.has('discovery.legacy-fanout')) skipped.push('discovery.legacy-fanout: GET /api and /api/v1 left out (no core API); the fan-out covers /apis and its group-versions');
  return skipped;
}
