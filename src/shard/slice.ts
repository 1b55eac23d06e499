/**
 * Sharding: slice i of N of a scenario, so N processes, machines or threads
 * (`run --shard`, `distribute`, `run --threads`) together offer the load of one
 * unsharded run. Slicing is a pure transformation of the validated scenario
 * document, applied before compilePlan; the engine does not know about shards.
 *
 * Every shard has its own run id, hence its own CRDs, groups, namespaces and
 * objects: names never collide, and together the shards put on the server
 * what the unsharded run would. The rules, for shard i of N (1 ≤ i ≤ N):
 *
 * - share(n) = floor(n/N), plus one for the first n mod N shards
 *   (= floor((n + N − i) / N)). Shares of n over i = 1..N add up to exactly n,
 *   some may be 0 when n < N, and share is monotone in n (ascending step
 *   levels stay non-decreasing).
 * - generate.crds.count: share(count). Each step of a `by: crds` sweep gets
 *   share(level), so at every step the shards' CRDs add up to the level.
 *   Every nonzero level (and the count) must be at least N: a shard without
 *   CRDs cannot run the scenario's phases (UnsplittableError: the
 *   caller words it in its own terms: shards, threads, workers).
 * - generate.crds.groups: max(1, share(groups)) (never above the shard's count).
 * - generate.objects is unchanged: perCRD objects are created for each of the
 *   shard's own CRDs, so object totals add up exactly (Σ share(count) × perCRD
 *   = count × perCRD), and every list/get sees the same per-CRD and
 *   per-namespace object counts, i.e. the same response sizes, as unsharded.
 *   namespaces and labelValues stay the same for the same reason.
 * - repeat: share(repeat) (may be 0: the phase then runs no iterations).
 * - open model: rate (and both ends of a ramp) divided by N; maxInFlight,
 *   when set, max(1, share(maxInFlight)).
 * - closed model: concurrency max(1, share(concurrency)) (so the shards'
 *   concurrency adds up exactly when concurrency ≥ N).
 * - watch: watchers share(watchers) (may be 0).
 * - `steps: by: concurrency` levels: max(1, share(level));
 *   `steps: by: rate` levels: level / N.
 * - duration, seed, slo, onError, cleanup, names: unchanged. Each shard runs
 *   the same durations (start the shards together for a concurrent load).
 */
import { UsageError } from '../types/errors.js';
import type { PhaseDoc, RateDoc, ScenarioDoc } from '../scenarios/schema.js';

/**
 * A scenario that cannot be cut into `slices` parts: a step level (or the CRD
 * count) has fewer CRDs than slices, so some slice would install none. It
 * carries the facts; callers say it in their own terms (shards, threads, workers).
 */
export class UnsplittableError extends UsageError {
  constructor(
    readonly crds: number,
    readonly slices: number,
  ) {
    super(`cannot split ${crds} CRDs into ${slices} slices (some slices would install none)`, `use at most ${crds} slices, or more CRDs`);
  }
}

/** Shard i's (1-based) share of n items over N shards: floor or ceil of n/N; the shares add up to n. */
export function shareOf(n: number, index: number, count: number): number {
  return Math.floor((n + count - index) / count);
}

/** A rate string (`200/s`, `600/m`) divided by N, as `<number>/s` or `/m`, in plain decimal notation. */
export function divideRate(rate: string, count: number): string {
  const m = /^(\d+(?:\.\d+)?)\/(s|m)$/.exec(rate);
  if (!m) throw new Error(`not a rate: ${rate}`);
  return `${decimal(Number(m[1]) / count)}/${m[2]}`;
}

function decimal(x: number): string {
  // Plain notation only (the rate syntax has no exponent); 9 decimals is far below a meaningful rate.
  const text = x.toFixed(9).replace(/\.?0+$/, '');
  return text === '' ? '0' : text;
}

function divideRateDoc(rate: RateDoc, count: number): RateDoc {
  return typeof rate === 'string' ? divideRate(rate, count) : { from: divideRate(rate.from, count), to: divideRate(rate.to, count) };
}

/**
 * Shard `index` of `count` of a validated scenario: a new, deeply frozen
 * document (the input is not modified). Shard 1/1 equals the input.
 */
export function sliceScenario(doc: ScenarioDoc, index: number, count: number): ScenarioDoc {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    // Callers validate what users typed; this is a guard against a caller's bug.
    throw new RangeError(`slice ${index} of ${count}: expected whole numbers with 1 ≤ index ≤ count`);
  }
  const share = (n: number) => shareOf(n, index, count);
  const atLeastOne = (n: number) => Math.max(1, share(n));
  const out = structuredClone(doc) as ScenarioDoc;
  if (count === 1) return deepFreeze(out);

  const crds = out.generate.crds;
  const by = out.steps?.by ?? 'crds';
  if (crds) {
    const levels = by === 'crds' && out.steps ? out.steps.at : [crds.count];
    const tooSmall = levels.find((level) => level > 0 && level < count);
    if (tooSmall !== undefined) throw new UnsplittableError(tooSmall, count);
    const shardCount = share(crds.count);
    (crds as { count: number }).count = shardCount;
    (crds as { groups: number }).groups = Math.min(shardCount, atLeastOne(crds.groups));
  }
  if (out.steps) {
    const at = out.steps.at.map((level) => (by === 'crds' ? share(level) : by === 'concurrency' ? atLeastOne(level) : level / count));
    (out.steps as { at: number[] }).at = at;
  }
  (out as { phases: PhaseDoc[] }).phases = out.phases.map((phase) => slicePhase(phase, count, share, atLeastOne));
  return deepFreeze(out);
}

function slicePhase(phase: PhaseDoc, count: number, share: (n: number) => number, atLeastOne: (n: number) => number): PhaseDoc {
  const p = { ...phase } as Record<string, unknown>;
  if (phase.op === 'watch') {
    p.watchers = share(phase.watchers);
    return p as PhaseDoc;
  }
  if (phase.repeat !== undefined) p.repeat = share(phase.repeat);
  if (phase.concurrency !== undefined) p.concurrency = atLeastOne(phase.concurrency);
  if (phase.rate !== undefined) p.rate = divideRateDoc(phase.rate, count);
  if (phase.maxInFlight !== undefined) p.maxInFlight = atLeastOne(phase.maxInFlight);
  return p as PhaseDoc;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
