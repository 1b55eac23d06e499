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


/**
 * Percentiles in milliseconds (histograms hold microseconds), never above the
 * observed maximum nor below the observed minimum: HDR answers a percentile
 * with the highest value of its bucket (3 significant digits), which can lie
 * above the largest sample actually recorded (p99 106.7 ms over a max of
 * 106.6 ms). Every output reads its percentiles from here.
 */
export function latencySummaryMs(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const max = h.maxValue;
  const min = h.minNonZeroValue <= max ? h.minNonZeroValue : 0;
  const within = (us: number) => ms(Math.min(max, Math.max(min, us)));
  return {
    p50: within(h.getValueAtPercentile(50)),
    p90: within(h.getValueAtPercentile(90)),
    p99: within(h.getValueAtPercentile(99)),
    p999: within(h.getValueAtPercentile(99.9)),
    max: ms(max),
    mean: within(h.mean),
  };
}
