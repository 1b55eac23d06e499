/**
 * "Where the server spends it": the profile section of the reports, as plain
 * rows both the Markdown and the HTML reporter render. A pure function of the
 * result's `profiles` (src/types/results.ts).
 */
import type { ComponentShare, ProfilesResult } from '../types/results.js';
import { stackedAreaChart } from './stacked.js';
import { formatBytes } from './table.js';

export interface ProfileRow {
  what: string;
  process: string;
  /** CPU seconds over profiled seconds, or the heap in use. */
  amount: string;
  components: string;
  file: string;
}

export interface ProfileSection {
  notes: string[];
  steps: { step: number; title: string; rows: ProfileRow[] }[];
  growth: { crds: string; process: string; growth: string; perCrd: string; components: string }[];
}

/** `apiextensions (CRD handlers, …)` → `apiextensions`. */
export function shortName(name: string): string {
  return name.replace(/ \(.*\)$/, '');
}

/** formatBytes with a sign for negative values. */
export function signedBytes(n: number): string {
  return n < 0 ? `−${formatBytes(-n)}` : formatBytes(n);
}

export function percent(share: number): string {
  const p = share * 100;
  return `${p >= 10 || p <= -10 ? p.toFixed(0) : p.toFixed(1)} %`;
}

/** The largest components by cumulative share; `other` always shown when it has samples. */
export function componentList(components: readonly ComponentShare[], max = 5): string {
  const shown = components.filter((c) => c.share >= 0.01).slice(0, max);
  const other = components.find((c) => c.component === 'other');
  if (other && other.share > 0 && !shown.includes(other)) shown.push(other);
  return shown.map((c) => `${shortName(c.name)} ${percent(c.share)}`).join(', ');
}

export function profileSection(p: ProfilesResult): ProfileSection {
  const notes = p.unavailable.map((u) => `${u.source}: not profiled — ${u.reason}`);
  const steps = [...new Set([...p.cpu.map((c) => c.step), ...p.heap.map((h) => h.step)])].sort((a, b) => a - b);
  return {
    notes,
    steps: steps.map((step) => {
      const cpu = p.cpu.filter((c) => c.step === step);
      const heap = p.heap.filter((h) => h.step === step);
      const crds = cpu[0]?.crds ?? heap[0]?.crds ?? 0;
      return {
        step,
        title: `Step ${step} (${crds} CRDs)`,
        rows: [
          ...cpu.map((c) => ({
            what: c.phases.length > 1 ? `${c.phase} (+ ${c.phases.filter((x) => x !== c.phase).join(', ')})` : c.phase,
            process: c.source,
            amount: `${c.cpuSeconds.toFixed(2)} CPU s in ${c.profiledSeconds} s`,
            components: componentList(c.components),
            file: c.file,
          })),
          ...heap.map((h) => ({ what: 'heap at the end of the step', process: h.source, amount: `${formatBytes(h.inuseBytes)} in use`, components: componentList(h.components), file: h.file })),
        ],
      };
    }),
    growth: p.heapGrowth.map((g) => ({
      crds: `${g.fromCrds} → ${g.toCrds}`,
      process: g.source,
      growth: `${g.deltaBytes >= 0 ? '+' : ''}${signedBytes(g.deltaBytes)}`,
      perCrd: g.perCrdBytes !== undefined ? signedBytes(g.perCrdBytes) : '—',
      components: g.components
        .filter((c) => c.deltaBytes > 0)
        .slice(0, 4)
        .map((c) => `${shortName(c.name)} ${percent(c.shareOfGrowth)}${c.perCrdBytes !== undefined ? ` (${signedBytes(c.perCrdBytes)}/CRD)` : ''}`)
        .join(', '),
    })),
  };
}

/** Heap of one process by component against the CRD count at each step (the 7 largest, the rest summed). */
export function heapChart(p: ProfilesResult, source = 'kube-apiserver'): string | undefined {
  const heaps = p.heap.filter((h) => h.source === source).sort((a, b) => a.step - b.step);
  if (heaps.length < 2) return undefined;
  const last = heaps[heaps.length - 1]!;
  const named = last.components.filter((c) => c.component !== 'other').slice(0, 7).map((c) => c.component);
  const layers = named.map((id) => ({
    name: shortName(last.components.find((c) => c.component === id)!.name),
    values: heaps.map((h) => (h.components.find((c) => c.component === id)?.value ?? 0) / 2 ** 20),
  }));
  layers.push({ name: 'other & the rest', values: heaps.map((h) => h.components.filter((c) => !named.includes(c.component)).reduce((a, c) => a + c.value, 0) / 2 ** 20) });
  return stackedAreaChart({
    id: `chart-heap-${source}`,
    title: `${source} heap in use by component vs CRDs`,
    xLabel: 'CRDs installed',
    yLabel: 'heap in use (MiB)',
    xs: heaps.map((h) => h.crds),
    layers,
  });
}
