/**
 * The clock behind watch event latency: a writer stamps the sent-at
 * annotation (generators/labels.ts ANNOTATION_SENT_AT) and a watcher, in this
 * process or another on the same clock, subtracts it from its receive time.
 */

/** Wall-clock µs since the epoch (comparable across processes and shards on one clock). */
export function epochMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
