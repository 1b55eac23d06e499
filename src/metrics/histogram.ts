/**
 * Latency histograms: HDR histograms in microseconds, one per operation key,
 * mergeable (shards, workers, repetitions) and encodable into results so a
 * saved run can be merged and re-analysed exactly. No per-sample arrays.
 */
import hdr from 'hdr-histogram-js';
import type { LatencySummary } from '../types/results.js';

export type Histogram = hdr.Histogram;

/** 1 µs to 1 h at 3 significant digits; auto-resizes beyond. */
export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 'packed',
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 'packed', false);
}


/** Percentiles in milliseconds (histograms hold microseconds). */
export function latencySummaryMs(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}
