/**
 * Plain-text views of a `tenants=N` run and of the storage process, shared by
 * the Markdown and HTML reports: each tenant's p99 per step ▸ phase side by
 * side, how far apart the tenants were, what the storage process did, and the
 * shared revision counter. Pure functions of the result.
 */
import type { PhaseResult, RunInfo, RunSummary, TenantResult } from '../types/results.js';
import { formatLatencyMs, groupThousands } from './view.js';

export interface TenantRow {
  step: number;
  level: number;
  phase: string;
  op: string;
  /** p99 per tenant, ms, in tenant order (undefined: the tenant has no such row). */
  p99: (number | undefined)[];
  /** Slowest tenant's p99 / fastest's. */
  spread?: number;
}

function primaryOf(p: PhaseResult) {
  return p.ops.find((o) => o.op === p.primary);
}

/** One row per step ▸ phase (its primary op), each tenant's p99. */
export function tenantRows(tenants: readonly TenantResult[]): TenantRow[] {
  const first = tenants[0];
  if (!first) return [];
  return first.phases.map((p) => {
    const p99 = tenants.map((t) => {
      const same = t.phases.find((q) => q.step === p.step && q.phase === p.phase);
      const op = same && primaryOf(same);
      return op && op.ok > 0 ? op.latencyMs.p99 : undefined;
    });
    const known = p99.filter((v): v is number => v !== undefined && v > 0);
    const spread = known.length === tenants.length && known.length > 1 ? Math.max(...known) / Math.min(...known) : undefined;
    return { step: p.step, level: p.level, phase: p.phase, op: p.primary, p99, ...(spread !== undefined ? { spread } : {}) };
  });
}

export function formatTenantCell(ms: number | undefined): string {
  return ms === undefined ? '–' : formatLatencyMs(ms);
}

/** Successful writes a tenant's own requests made (a lower bound of its revisions: the server writes status too). */
function ownWrites(t: TenantResult): number {
  return t.phases.reduce((a, p) => a + p.ops.filter((o) => /^(create|patch|update|delete)\./.test(o.op)).reduce((b, o) => b + o.ok, 0), 0);
}

/** Sentences on how the tenants interfered, from the recorded figures only. */
export function tenantFindings(summary: RunSummary, run: RunInfo): string[] {
  const tenants = summary.tenants ?? [];
  if (tenants.length === 0) return [];
  const out: string[] = [];
  const storage = run.storage ? `${run.storage.kind}` : 'storage';
  out.push(`${tenants.length} API servers ran the scenario at the same time on one ${storage}, each under its own prefix (${tenants.map((t) => t.prefix).join(', ')}); the tables above merge them (levels per tenant, counts summed).`);
  const moved = tenants.filter((t) => t.revisions).map((t) => ({ t, delta: t.revisions!.end - t.revisions!.start, own: ownWrites(t) }));
  if (moved.length > 0) {
    const own = moved.reduce((a, m) => a + m.own, 0);
    out.push(
      `Shared revision counter: the resourceVersion each tenant saw advanced by ${moved.map((m) => `${groupThousands(m.delta)} (tenant ${m.t.index})`).join(', ')}, while each tenant's own requests wrote ${moved.map((m) => groupThousands(m.own)).join(', ')} objects (${groupThousands(own)} in all): every tenant's writes advance every tenant's resourceVersions.`,
    );
  }
  const rows = tenantRows(tenants).filter((r) => r.spread !== undefined);
  if (rows.length > 0) {
    const worst = rows.reduce((a, r) => (r.spread! > a.spread! ? r : a));
    out.push(`Largest spread between tenants: ${worst.phase} (${worst.op}, step ${worst.step}) p99 ${worst.p99.map(formatTenantCell).join(' / ')} ms, ×${worst.spread!.toFixed(2)} slowest to fastest.`);
  }
  const etcdP99 = tenants.map((t) => Math.max(0, ...t.phases.map((p) => p.server?.etcdP99Ms ?? 0)));
  if (etcdP99.some((v) => v > 0)) out.push(`Storage latency seen by each API server (worst phase's etcd request p99): ${etcdP99.map((v) => `${formatLatencyMs(v)} ms`).join(', ')}.`);
  out.push('For the cost of sharing, compare with a single tenant: an A/B of the same server with tenants=1 as the baseline and tenants=N as the candidate.');
  return out;
}
