/**
 * Labels and names that tie everything a run creates to that run, so runs
 * never collide and `asa-bench cleanup` can find leftovers by label alone.
 * (Run ids themselves come from run-id.ts.) Pure: also bundled into k6 scripts.
 */

/** Every object a run creates carries this label with the run id. */
export const LABEL_RUN = 'asa-bench.io/run';
/** Spreads objects over a few values so label-selector lists select a fraction. */
export const LABEL_SHARD = 'asa-bench.io/shard';

/** Annotation carrying the writer's send time (epoch µs), for watch event latency across processes. */
export const ANNOTATION_SENT_AT = 'asa-bench.io/sent-at-us';

export function labelsFor(runId: string, index: number, shards = 4): Record<string, string> {
  return { [LABEL_RUN]: runId, [LABEL_SHARD]: `s${index % shards}` };
}

export function namespaceName(runId: string, index: number): string {
  return `asa-${runId}-${index}`;
}
