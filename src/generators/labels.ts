/**
 * Labels and names that tie everything a run creates to that run, so runs
 * never collide and `asa-bench cleanup` can find leftovers by label alone.
 */
import { randomBytes } from 'node:crypto';

/** Every object a run creates carries this label with the run id. */
export const LABEL_RUN = 'asa-bench.io/run';
/** Spreads objects over a few values so label-selector lists select a fraction. */
export const LABEL_SHARD = 'asa-bench.io/shard';

/** Annotation carrying the writer's send time (epoch µs), for watch event latency across processes. */
export const ANNOTATION_SENT_AT = 'asa-bench.io/sent-at-us';

/** Wall-clock µs since the epoch (comparable across processes and shards on one clock). */
export function epochMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** A short id, valid inside DNS labels: 8 lowercase base-36 characters. */
export function newRunId(): string {
  const bytes = randomBytes(8);
  let out = '';
  for (const b of bytes) out += 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36];
  // Start with a letter so the id is also a valid DNS-1035 label prefix.
  return `r${out.slice(1)}`;
}

export const RUN_ID = /^[a-z][a-z0-9]{7}$/;

export function labelsFor(runId: string, index: number, shards = 4): Record<string, string> {
  return { [LABEL_RUN]: runId, [LABEL_SHARD]: `s${index % shards}` };
}

export function namespaceName(runId: string, index: number): string {
  return `asa-${runId}-${index}`;
}
