/**
 * Component deltas between two builds, when both sides were profiled
 * (`run --profile`): kube-apiserver (and etcd) CPU per request of each
 * step ▸ phase, and heap in use at the end of each step, by component.
 * Repetitions are summarised by their median. Informative, never a verdict:
 * profiles are sampled (100 Hz CPU, every ~512 KiB of allocation for heap).
 */
import type { ComponentShare, CpuProfileResult, HeapProfileResult, PhaseResult, RunSummary } from '../types/results.js';

export interface ComponentDelta {
  kind: 'cpu' | 'heap';
  step: number;
  /** Phase for CPU rows; absent for heap rows. */
  phase?: string;
  source: string;
  component: string;
  name: string;
  /** CPU: ms of CPU per primary operation (CPU seconds when the phase has no count); heap: bytes. */
  unit: 'cpu-ms/op' | 'cpu-s' | 'bytes';
  baseline: number;
  candidate: number;
  /** Relative change of the value (undefined when the baseline is 0). */
  delta?: number;
  /** Share of the profile, baseline and candidate (0..1). */
  baselineShare: number;
  candidateShare: number;
}

export interface ProfileComparison {
  rows: ComponentDelta[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface SideValue {
  values: number[];
  shares: number[];
  name: string;
}

type Profiled = { step: number; source: string; phase?: string; components: ComponentShare[] };

/** key → component → values over the repetitions. */
function gather<T extends Profiled>(runs: readonly RunSummary[], pick: (s: RunSummary) => readonly T[], value: (p: T, c: ComponentShare, s: RunSummary) => number): Map<string, Map<string, SideValue>> {
  const out = new Map<string, Map<string, SideValue>>();
  for (const run of runs) {
    for (const p of pick(run)) {
      const key = `${p.step}\u0000${p.phase ?? ''}\u0000${p.source}`;
      let byComponent = out.get(key);
      if (!byComponent) out.set(key, (byComponent = new Map()));
      for (const c of p.components) {
        const v = byComponent.get(c.component) ?? { values: [], shares: [], name: c.name };
        v.values.push(value(p, c, run));
        v.shares.push(c.share);
        byComponent.set(c.component, v);
      }
    }
  }
  return out;
}

function primaryCount(run: RunSummary, step: number, phase: string): number {
  const p: PhaseResult | undefined = run.phases.find((x) => x.step === step && x.phase === phase);
  return p?.ops.find((o) => o.op === p.primary)?.count ?? 0;
}

export function compareProfiles(baseline: readonly RunSummary[], candidate: readonly RunSummary[]): ProfileComparison | undefined {
  const profiled = (runs: readonly RunSummary[]) => runs.some((r) => r.profiles && (r.profiles.cpu.length > 0 || r.profiles.heap.length > 0));
  if (!profiled(baseline) || !profiled(candidate)) return undefined;
  // CPU per primary operation when every run counted some, so a faster server doing more requests in a fixed duration is not "more CPU".
  const perOp = [...baseline, ...candidate].every((r) => (r.profiles?.cpu ?? []).every((c) => primaryCount(r, c.step, c.phase) > 0));
  const cpuValue = (p: CpuProfileResult, c: ComponentShare, run: RunSummary) => (perOp ? (c.value * 1000) / primaryCount(run, p.step, p.phase) : c.value);
  const heapValue = (_: HeapProfileResult, c: ComponentShare) => c.value;
  const rows: ComponentDelta[] = [];
  const pair = (kind: 'cpu' | 'heap', b: Map<string, Map<string, SideValue>>, c: Map<string, Map<string, SideValue>>) => {
    for (const [key, bc] of b) {
      const cc = c.get(key);
      if (!cc) continue;
      const [step, phase, source] = key.split('\u0000');
      for (const component of new Set([...bc.keys(), ...cc.keys()])) {
        const bv = bc.get(component);
        const cv = cc.get(component);
        const base = bv ? median(bv.values) : 0;
        const cand = cv ? median(cv.values) : 0;
        rows.push({
          kind,
          step: Number(step),
          ...(phase ? { phase } : {}),
          source: source!,
          component,
          name: (bv ?? cv)!.name,
          unit: kind === 'heap' ? 'bytes' : perOp ? 'cpu-ms/op' : 'cpu-s',
          baseline: base,
          candidate: cand,
          ...(base > 0 ? { delta: (cand - base) / base } : {}),
          baselineShare: bv ? median(bv.shares) : 0,
          candidateShare: cv ? median(cv.shares) : 0,
        });
      }
    }
  };
  pair('cpu', gather(baseline, (s) => s.profiles?.cpu ?? [], cpuValue), gather(candidate, (s) => s.profiles?.cpu ?? [], cpuValue));
  pair('heap', gather(baseline, (s) => s.profiles?.heap ?? [], heapValue), gather(candidate, (s) => s.profiles?.heap ?? [], heapValue));
  return { rows };
}

/**
 * The changes worth a line: components with at least 5 % of either side's profile whose
 * value moved by ≥ 10 %, largest first.
 */
export function notableDeltas(p: ProfileComparison, max = 20): ComponentDelta[] {
  return p.rows
    .filter((r) => Math.max(r.baselineShare, r.candidateShare) >= 0.05 && (r.delta === undefined ? r.candidate > 0 : Math.abs(r.delta) >= 0.1))
    .sort((a, b) => Math.abs(b.candidateShare - b.baselineShare) - Math.abs(a.candidateShare - a.baselineShare) || Math.abs(b.delta ?? 1) - Math.abs(a.delta ?? 1))
    .slice(0, max);
}

function amount(r: ComponentDelta, v: number): string {
  if (r.unit === 'bytes') return `${(v / 2 ** 20).toFixed(1)} MiB`;
  if (r.unit === 'cpu-ms/op') return `${v.toFixed(3)} ms/op`;
  return `${v.toFixed(2)} s`;
}

/** "list-cache@step 2 kube-apiserver: encoding +18 % CPU (0.120 → 0.142 ms/op; 22 % → 25 % of samples)". */
export function describeDelta(r: ComponentDelta): string {
  const where = r.kind === 'cpu' ? `${r.phase}@step ${r.step}` : `heap at the end of step ${r.step}`;
  const what = r.kind === 'cpu' ? 'CPU' : 'heap';
  const change = r.delta === undefined ? 'new' : `${r.delta >= 0 ? '+' : ''}${Math.round(r.delta * 100)} %`;
  const name = r.name.replace(/ \(.*\)$/, '');
  return `${where} ${r.source}: ${name} ${change} ${what} (${amount(r, r.baseline)} → ${amount(r, r.candidate)}; ${Math.round(r.baselineShare * 100)} % → ${Math.round(r.candidateShare * 100)} % of the profile)`;
}
