/**
 * `tenants=N` (the server spec): N kube-apiservers on one storage, each under
 * its own `--etcd-prefix`, the scenario run on every tenant at once. Each
 * tenant gets the whole scenario (its own CRDs and objects, its own run id),
 * its own client and its own /metrics scrapes; a barrier starts every
 * step ▸ phase group on all tenants together, so their phases overlap as they
 * would on a shared storage in production.
 *
 * The result keeps each tenant's phases apart (RunSummary.tenants) and merges
 * them per step ▸ phase (histograms exactly, src/shard/merge.ts) into the
 * run's phases, so `compare`/`ab` read a tenants run like any other: levels
 * and CRD counts are per tenant, counts and throughput add up over the tenants.
 *
 * What the tenants share beyond the storage process: the storage's revision
 * counter. Every write of any tenant advances the resourceVersion every tenant
 * sees; `revisions` records how far it moved during the run as seen by each
 * tenant, next to the writes that tenant made itself.
 * Never prints.
 */
import type { KubeClient } from '../kube/client.js';
import { CRD_PATH } from '../kube/paths.js';
import { withQuery } from '../kube/query.js';
import type { Plan, PlannedStep } from '../scenarios/plan.js';
import { mergePhases } from '../shard/merge.js';
import type { PhaseResult, RunStatus, TenantResult } from '../types/results.js';
import { executePlan, type ExecuteOptions, type ExecuteResult, type RunEvent } from './run.js';

export interface TenantTarget {
  /** 1-based. */
  index: number;
  /** The tenant's --etcd-prefix. */
  prefix: string;
  client: KubeClient;
  runId: string;
}

export type TenantsEvent = Exclude<RunEvent, { type: 'interval' }> | (Extract<RunEvent, { type: 'interval' }> & { thread: number });

export interface TenantsOptions extends Omit<ExecuteOptions, 'client' | 'runId' | 'onEvent' | 'beforePhase' | 'afterPhases'> {
  tenants: readonly TenantTarget[];
  onEvent: (event: TenantsEvent) => void;
}

export interface TenantsResult extends ExecuteResult {
  tenants: TenantResult[];
}

const SEVERITY: Record<RunStatus, number> = { complete: 0, partial: 1, failed: 2 };

/** Resolves each arrival when every tenant still running has arrived at the same point. */
class Barrier {
  private waiting: (() => void)[] = [];
  constructor(private live: number) {}

  arrive(): Promise<void> {
    const p = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.release();
    return p;
  }

  leave(): void {
    this.live--;
    this.release();
  }

  private release(): void {
    if (this.waiting.length < this.live || this.waiting.length === 0) return;
    const ready = this.waiting;
    this.waiting = [];
    for (const go of ready) go();
  }
}

/** The storage revision as one tenant sees it: a list's resourceVersion is the store's current revision. */
async function currentRevision(client: KubeClient): Promise<number | undefined> {
  try {
    const list = await client.getJson<{ metadata?: { resourceVersion?: string } }>(withQuery(CRD_PATH, { limit: 1 }));
    const rv = Number(list.metadata?.resourceVersion);
    return Number.isSafeInteger(rv) ? rv : undefined;
  } catch {
    return undefined;
  }
}

export async function runTenants(plan: Plan, options: TenantsOptions): Promise<TenantsResult> {
  const { tenants, onEvent } = options;
  const barrier = new Barrier(tenants.length);
  const startRevisions = await Promise.all(tenants.map((t) => currentRevision(t.client)));
  const parts = new Map<string, { results: PhaseResult[]; from: Set<number> }>();
  const merged: PhaseResult[] = [];
  /** Tenants whose run ended: they report no further phases. */
  const gone = new Set<number>();
  const groupKey = (step: number, phase: string) => `${step}\u0000${phase}`;
  /** A phase is merged once every tenant has reported it or ended without it. */
  const complete = (key: string) => tenants.every((t) => parts.get(key)?.from.has(t.index) || gone.has(t.index));
  const collect = (tenant: number, result: PhaseResult) => {
    const key = groupKey(result.step, result.phase);
    const part = parts.get(key) ?? { results: [], from: new Set<number>() };
    part.results.push(result);
    part.from.add(tenant);
    parts.set(key, part);
    if (complete(key)) flush(key);
  };
  const flush = (key: string) => {
    const list = parts.get(key)?.results;
    if (!list || list.length === 0) return;
    parts.delete(key);
    const first = list[0]!;
    // Levels and CRD counts are per tenant (each ran the whole scenario); the load adds up.
    const phase: PhaseResult = { ...mergePhases(list), level: first.level, crds: first.crds };
    merged.push(phase);
    onEvent({ type: 'phase-end', result: phase });
  };
  const tenantEvent = (t: TenantTarget) => (event: RunEvent) => {
    switch (event.type) {
      case 'phase-end':
        collect(t.index, event.result);
        break;
      case 'interval':
        onEvent({ ...event, thread: t.index });
        break;
      case 'message':
        onEvent({ type: 'message', message: `tenant ${t.index}: ${event.message}` });
        break;
      default:
        // Progress of the first tenant stands for all: they run the same plan in step.
        if (t.index === tenants[0]!.index) onEvent(event);
    }
  };

  const runs = await Promise.all(
    tenants.map(async (t): Promise<ExecuteResult> => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        gone.add(t.index);
        barrier.leave();
        for (const key of [...parts.keys()]) if (complete(key)) flush(key);
      };
      try {
        return await executePlan(plan, {
          ...options,
          client: t.client,
          runId: t.runId,
          onEvent: tenantEvent(t),
          beforePhase: (_step: PlannedStep, _phase: string) => barrier.arrive(),
          afterPhases: async () => leave(),
        });
      } finally {
        leave();
      }
    }),
  );
  for (const key of [...parts.keys()]) flush(key);
  const endRevisions = await Promise.all(tenants.map((t) => currentRevision(t.client)));

  const results: TenantResult[] = tenants.map((t, k) => {
    const r = runs[k]!;
    const start = startRevisions[k];
    const end = endRevisions[k];
    return {
      index: t.index,
      prefix: t.prefix,
      runId: t.runId,
      status: r.status,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      phases: r.phases,
      serverSeries: r.serverSeries,
      ...(start !== undefined && end !== undefined ? { revisions: { start, end } } : {}),
      ...(r.cleanup ? { cleanup: { deleted: r.cleanup.crds + r.cleanup.namespaces, leftover: r.cleanup.leftover, ...(r.cleanup.skipped ? { skipped: true } : {}) } } : {}),
    };
  });
  const status = runs.map((r) => r.status).reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'complete' as RunStatus);
  const reasons = runs.map((r, k) => (r.status === 'complete' ? undefined : `tenant ${tenants[k]!.index}: ${r.reason ?? r.status}`)).filter((r) => r !== undefined);
  const cleanups = runs.map((r) => r.cleanup).filter((c) => c !== undefined);
  const skipped = [...new Set(runs.flatMap((r) => r.skipped ?? []))];
  return {
    phases: merged,
    // The first tenant's API server stands for the series (each tenant's own is in `tenants`).
    serverSeries: runs[0]?.serverSeries ?? [],
    status,
    ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
    ...(cleanups.length > 0
      ? {
          cleanup: {
            crds: cleanups.reduce((a, c) => a + c.crds, 0),
            namespaces: cleanups.reduce((a, c) => a + c.namespaces, 0),
            leftover: cleanups.some((c) => c.leftover < 0) ? -1 : cleanups.reduce((a, c) => a + c.leftover, 0),
            ...(cleanups.some((c) => c.skipped) ? { skipped: true } : {}),
          },
        }
      : {}),
    ...(skipped.length > 0 ? { skipped } : {}),
    tenants: results,
  };
}
