/**
 * The order in which a `mix` phase runs its entries: a plan fact that the
 * engine (engine/ops.ts) and the k6 export (export/k6.ts) both read, so an
 * exported script picks the same entry for the same iteration number.
 */

/** Smooth weighted round-robin (as nginx's upstream balancer): weights 3,1 → 0,0,1,0. */
export function weightedWheel(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const wheel: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let k = 0; k < weights.length; k++) {
      current[k]! += weights[k]!;
      if (current[k]! > current[best]!) best = k;
    }
    current[best]! -= total;
    wheel.push(best);
  }
  return wheel;
}
