/**
 * Slicing a scenario, in the words of the flag that asked for it: `run --shard
 * i/N`, `run --threads N`, `distribute --workers N` (N shards). Below the CLI the refusal
 * is a typed fact (UnsplittableError: so many CRDs, so many slices); here it
 * becomes a sentence about shards, threads or workers.
 */
import { UnsplittableError } from '../shard/slice.js';
import { UsageError } from '../types/errors.js';

export interface ShardSpec {
  /** 1-based index of this shard. */
  index: number;
  count: number;
}

/** Parses `--shard i/N` (1 ≤ i ≤ N); throws UsageError otherwise. */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard: expected i/N with 1 ≤ i ≤ N (e.g. 2/3), got "${text}"`, 'run shard 1/N, 2/N, … N/N, then `asa-bench merge` their results');
  }
  return { index, count };
}

/**
 * Runs `slice` and words an UnsplittableError as the flag's own refusal, e.g.
 * `--threads 6: cannot split 5 CRDs over 6 threads (some threads would install none)`.
 */
export function sliceAs<T>(flag: string, parts: 'shards' | 'threads', slice: () => T): T {
  try {
    return slice();
  } catch (err) {
    if (!(err instanceof UnsplittableError)) throw err;
    throw new UsageError(`${flag}: cannot split ${err.crds} CRDs over ${err.slices} ${parts} (some ${parts} would install none)`, `use at most ${err.crds} ${parts}, or more CRDs`);
  }
}
