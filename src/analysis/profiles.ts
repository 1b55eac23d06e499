/**
 * Findings from the servers' profiles (RunSummary.profiles): which component
 * the heap grows in as CRDs pile up (at the knee when there is one), and where
 * kube-apiserver spent its CPU in the slowest phase. A pure function of the result.
 */
import type { ComponentShare, CpuProfileResult, HeapGrowth, PhaseResult, RunSummary } from '../types/results.js';

const MiB = 2 ** 20;

function bytes(n: number): string {
  const a = Math.abs(n);
  const text = a >= MiB ? `${(a / MiB).toFixed(1)} MiB` : `${(a / 1024).toFixed(0)} KiB`;
  return n < 0 ? `−${text}` : text;
}

function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}

function short(name: string): string {
  return name.replace(/ \(.*\)$/, '');
}

function topFunctions(top: readonly { function: string; value?: number; deltaBytes?: number }[], unit: (v: number) => string, n = 2): string {
  return top
    .slice(0, n)
    .map((t) => `${t.function} ${unit(t.value ?? t.deltaBytes ?? 0)}`)
    .join(', ');
}

/** The growth interval to explain: the one ending at the knee step, else the steepest per CRD. */
function growthToExplain(growth: readonly HeapGrowth[], kneeStep: number | undefined): HeapGrowth | undefined {
  const withCrds = growth.filter((g) => g.perCrdBytes !== undefined && g.deltaBytes > 0);
  return withCrds.find((g) => g.toStep === kneeStep) ?? [...withCrds].sort((a, b) => b.perCrdBytes! - a.perCrdBytes!)[0];
}

export function heapFinding(growth: readonly HeapGrowth[], source: string, kneeStep?: number): string | undefined {
  const g = growthToExplain(
    growth.filter((x) => x.source === source),
    kneeStep,
  );
  if (!g) return undefined;
  const [first, second] = g.components.filter((c) => c.deltaBytes > 0);
  if (!first) return undefined;
  const at = g.toStep === kneeStep ? ' (the knee)' : '';
  const then = second ? `, then ${short(second.name)} ${pct(second.shareOfGrowth)}` : '';
  const fns = first.top.length > 0 ? ` (top: ${topFunctions(first.top, bytes)})` : '';
  return `From ${g.fromCrds} to ${g.toCrds} CRDs${at}, ${source} heap in use grew ${bytes(g.deltaBytes)} (${bytes(g.perCrdBytes!)} per CRD): ${pct(first.shareOfGrowth)} of the growth is ${short(first.name)}, ${bytes(first.perCrdBytes ?? 0)} per CRD${fns}${then}.`;
}

function cpuComposition(components: readonly ComponentShare[]): string {
  const [first, ...rest] = components;
  if (!first) return 'no samples';
  const fns = first.top.length > 0 ? ` (top: ${topFunctions(first.top, (v) => `${v.toFixed(2)} s`)})` : '';
  const others = rest
    .filter((c) => c.share >= 0.05)
    .slice(0, 3)
    .map((c) => `${short(c.name)} ${pct(c.share)}`);
  return `${short(first.name)} ${pct(first.share)}${fns}${others.length > 0 ? `, then ${others.join(', ')}` : ''}`;
}

/** Primary p99 of a phase, ms. */
function p99(phase: PhaseResult): number {
  return phase.ops.find((o) => o.op === phase.primary)?.latencyMs.p99 ?? 0;
}

/** The slowest profiled phase of the last step (highest primary p99), and where the servers' CPU went. */
export function slowestPhaseFinding(phases: readonly PhaseResult[], cpu: readonly CpuProfileResult[]): string | undefined {
  const lastStep = Math.max(...cpu.map((c) => c.step));
  const candidates = phases.filter((p) => p.step === lastStep && cpu.some((c) => c.step === p.step && c.phase === p.phase && c.source === 'kube-apiserver'));
  const slowest = [...candidates].sort((a, b) => p99(b) - p99(a))[0];
  if (!slowest) return undefined;
  const profiles = cpu.filter((c) => c.step === slowest.step && c.phase === slowest.phase);
  const apiserver = profiles.find((c) => c.source === 'kube-apiserver')!;
  const rest = profiles
    .filter((c) => c !== apiserver && c.cpuSeconds > 0)
    .map((c) => `; ${c.source} ${c.cpuSeconds.toFixed(2)} CPU s: ${cpuComposition(c.components)}`)
    .join('');
  return `Slowest phase at ${slowest.crds} CRDs: ${slowest.phase} (${slowest.primary} p99 ${p99(slowest)} ms). kube-apiserver spent ${apiserver.cpuSeconds.toFixed(2)} CPU s in ${apiserver.profiledSeconds} s profiled: ${cpuComposition(apiserver.components)}${rest}.`;
}

export function profileFindings(summary: RunSummary, kneeStep?: number): string[] {
  const p = summary.profiles;
  if (!p) return [];
  const out: string[] = [];
  // Sources that could not be profiled are one line in the report's profile section, not a finding.
  for (const source of p.sources) {
    const f = heapFinding(p.heapGrowth, source, kneeStep);
    if (f) out.push(f);
  }
  const slow = p.cpu.length > 0 ? slowestPhaseFinding(summary.phases, p.cpu) : undefined;
  if (slow) out.push(slow);
  return out;
}
