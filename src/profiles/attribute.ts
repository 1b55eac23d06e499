/**
 * Profiles → component figures for the result: CPU seconds or heap bytes per
 * component (cumulative and flat, see components.ts), the functions behind each,
 * and heap growth by component between two steps.
 */
import type { ComponentShare, HeapGrowth } from '../types/results.js';
import { Classifier, OTHER, TABLES, type TableName } from './components.js';
import { sampleTypeIndex, type DecodedProfile } from './decode.js';

/** A profile attributed to components, with every function's value kept (for growth between steps). */
export interface Attribution {
  /** In the profile's unit after scaling (seconds for CPU, bytes for heap). */
  total: number;
  components: ComponentShare[];
  /** Component → function → value, complete (ComponentShare.top keeps 5). */
  functions: Map<string, Map<string, number>>;
}

export const TOP_FUNCTIONS = 5;

/**
 * Attributes the samples' `valueType` (e.g. `cpu`, `inuse_space`) to components of
 * the named table. `scale` converts the unit (1e-9 for CPU nanoseconds → seconds).
 * Throws when the profile has no such sample type.
 */
export function attribute(profile: DecodedProfile, table: TableName, valueType: string, scale = 1): Attribution {
  const index = sampleTypeIndex(profile, valueType);
  if (index < 0) throw new Error(`profile has no ${valueType} samples (types: ${profile.sampleTypes.map((t) => t.type).join(', ')})`);
  const classifier = new Classifier(TABLES[table]);
  const cum = new Map<string, number>();
  const flat = new Map<string, number>();
  const functions = new Map<string, Map<string, number>>();
  let total = 0;
  for (const sample of profile.samples) {
    const value = (sample.values[index] ?? 0) * scale;
    if (value === 0) continue;
    total += value;
    const owner = classifier.owner(sample.stack);
    cum.set(owner.component, (cum.get(owner.component) ?? 0) + value);
    const f = classifier.flat(sample.stack);
    flat.set(f, (flat.get(f) ?? 0) + value);
    // `other` has no owning frame: name it by its leaf-most frame outside the Go runtime.
    const fn = owner.frame ?? sample.stack.find((f) => !/^(runtime|internal\/runtime|internal\/sync|sync)[./]/.test(f)) ?? sample.stack[0] ?? '?';
    let byFn = functions.get(owner.component);
    if (!byFn) functions.set(owner.component, (byFn = new Map()));
    byFn.set(fn, (byFn.get(fn) ?? 0) + value);
  }
  const ids = [...new Set([...cum.keys(), ...flat.keys()])];
  const components = ids
    .map(
      (id): ComponentShare => ({
        component: id,
        name: id === OTHER ? 'other (unmapped code)' : classifier.nameOf(id),
        value: round(cum.get(id) ?? 0),
        share: total > 0 ? round((cum.get(id) ?? 0) / total, 6) : 0,
        flat: round(flat.get(id) ?? 0),
        top: topOf(functions.get(id)).map(([fn, v]) => ({ function: fn, value: round(v) })),
      }),
    )
    .sort((a, b) => b.value - a.value || b.flat - a.flat);
  return { total: round(total), components, functions };
}

function topOf(byFn: Map<string, number> | undefined, n = TOP_FUNCTIONS): [string, number][] {
  return [...(byFn ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Heap growth between two attributed heap profiles of one source (earlier step first). */
export function heapGrowth(
  source: string,
  from: { step: number; crds: number; attribution: Attribution },
  to: { step: number; crds: number; attribution: Attribution },
): HeapGrowth {
  const dCrds = to.crds - from.crds;
  const delta = to.attribution.total - from.attribution.total;
  const names = new Map([...from.attribution.components, ...to.attribution.components].map((c) => [c.component, c.name]));
  const components = [...names.keys()]
    .map((id) => {
      const before = from.attribution.components.find((c) => c.component === id)?.value ?? 0;
      const after = to.attribution.components.find((c) => c.component === id)?.value ?? 0;
      const d = after - before;
      const fnBefore = from.attribution.functions.get(id) ?? new Map<string, number>();
      const fnAfter = to.attribution.functions.get(id) ?? new Map<string, number>();
      const fnDelta = new Map<string, number>();
      for (const fn of new Set([...fnBefore.keys(), ...fnAfter.keys()])) fnDelta.set(fn, (fnAfter.get(fn) ?? 0) - (fnBefore.get(fn) ?? 0));
      return {
        component: id,
        name: names.get(id) ?? id,
        deltaBytes: Math.round(d),
        ...(dCrds !== 0 ? { perCrdBytes: Math.round(d / dCrds) } : {}),
        shareOfGrowth: delta !== 0 ? round(d / delta, 4) : 0,
        top: topOf(fnDelta)
          .filter(([, v]) => v > 0)
          .map(([fn, v]) => ({ function: fn, deltaBytes: Math.round(v) })),
      };
    })
    .sort((a, b) => b.deltaBytes - a.deltaBytes);
  return {
    source,
    fromStep: from.step,
    toStep: to.step,
    fromCrds: from.crds,
    toCrds: to.crds,
    deltaBytes: Math.round(delta),
    ...(dCrds !== 0 ? { perCrdBytes: Math.round(delta / dCrds) } : {}),
    components,
  };
}
