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
import { worstStatus, type PhaseResult, type TenantResult } from '../types/results.js';
import { addCleanups } from './cleanup.js';
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
  const { tenants } = options;
  const barrier = new Barrier(tenants.length);
  const startRevisions = await Promise.all(tenants.map((t) => currentRevision(t.client)));
  const merge = new TenantMerge(tenants, options.onEvent);
  const runs = await Promise.all(
    tenants.map(async (t): Promise<ExecuteResult> => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        merge.gone(t.index);
        barrier.leave();
      };
      try {
        return await executePlan(plan, {
          ...options,
          client: t.client,
          runId: t.runId,
          onEvent: (event) => merge.onEvent(t, event),
          beforePhase: (_step: PlannedStep, _phase: string) => barrier.arrive(),
          afterPhases: async () => leave(),
        });
      } finally {
        leave();
      }
    }),
  );
  merge.flushAll();
  const endRevisions = await Promise.all(tenants.map((t) => currentRevision(t.client)));
  const reasons = runs.map((r, k) => (r.status === 'complete' ? undefined : `tenant ${tenants[k]!.index}: ${r.reason ?? r.status}`)).filter((r) => r !== undefined);
  const cleanup = addCleanups(runs.map((r) => r.cleanup).filter((c) => c !== undefined));
  const skipped = [...new Set(runs.flatMap((r) => r.skipped ?? []))];
  return {
    phases: merge.merged,
    // The first tenant's API server stands for the series (each tenant's own is in `tenants`).
    serverSeries: runs[0]?.serverSeries ?? [],
    status: worstStatus(runs.map((r) => r.status)),
    ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
    ...(cleanup ? { cleanup } : {}),
    ...(skipped.length > 0 ? { skipped } : {}),
    tenants: tenants.map((t, k) => tenantResult(t, runs[k]!, startRevisions[k], endRevisions[k])),
  };
}

/**
 * The tenants' events as one run's: each step ▸ phase merged once every tenant
 * has reported it or ended without it; interval rows per tenant; the first
 * tenant's progress for all (they run the same plan in step).
 */
class TenantMerge {
  readonly merged: PhaseResult[] = [];
  private readonly parts = new Map<string, { results: PhaseResult[]; from: Set<number> }>();
  /** Tenants whose run ended: they report no further phases. */
  private readonly ended = new Set<number>();

  constructor(
    private readonly tenants: readonly TenantTarget[],
    private readonly emit: (event: TenantsEvent) => void,
  ) {}

  onEvent(t: TenantTarget, event: RunEvent): void {
    switch (event.type) {
      case 'phase-end':
        this.collect(t.index, event.result);
        break;
      case 'interval':
        this.emit({ ...event, thread: t.index });
        break;
      case 'message':
        this.emit({ type: 'message', message: `tenant ${t.index}: ${event.message}` });
        break;
      default:
        // Progress of the first tenant stands for all: they run the same plan in step.
        if (t.index === this.tenants[0]!.index) this.emit(event);
    }
  }

  /** Tenant `index` ended: what waited only for it is merged now. */
  gone(index: number): void {
    this.ended.add(index);
    for (const key of [...this.parts.keys()]) if (this.complete(key)) this.flush(key);
  }

  /** The end of the run: whatever is left, merged as it is. */
  flushAll(): void {
    for (const key of [...this.parts.keys()]) this.flush(key);
  }

  /** A phase is merged once every tenant has reported it or ended without it. */
  private complete(key: string): boolean {
    return this.tenants.every((t) => this.parts.get(key)?.from.has(t.index) || this.ended.has(t.index));
  }

  private collect(tenant: number, result: PhaseResult): void {
    const key = `${result.step}\u0000${result.phase}`;
    const part = this.parts.get(key) ?? { results: [], from: new Set<number>() };
    part.results.push(result);
    part.from.add(tenant);
    this.parts.set(key, part);
    if (this.complete(key)) this.flush(key);
  }

  private flush(key: string): void {
    const list = this.parts.get(key)?.results;
    if (!list || list.length === 0) return;
    this.parts.delete(key);
    const first = list[0]!;
    // Levels and CRD counts are per tenant (each ran the whole scenario); the load adds up.
    const phase: PhaseResult = { ...mergePhases(list), level: first.level, crds: first.crds };
    this.merged.push(phase);
    this.emit({ type: 'phase-end', result: phase });
  }
}

/** One tenant's own part of the result, with the storage revisions it saw move. */
function tenantResult(t: TenantTarget, r: ExecuteResult, start: number | undefined, end: number | undefined): TenantResult {
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
}
