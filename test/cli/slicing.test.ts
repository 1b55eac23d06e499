/**
 * The CLI's side of slicing: `--shard i/N` parsing, and the refusal to slice a
 * scenario worded for the flag that asked (shards, threads, workers) from the
 * facts that shard/slice.ts carries.
 */
import { describe, expect, it } from 'vitest';
import { parseShard, sliceAs } from '../../src/cli/slicing.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { sliceScenario } from '../../src/shard/slice.js';
import { threadSlices } from '../../src/engine/threads.js';
import { UsageError } from '../../src/types/errors.js';

const FIVE_CRDS = parseScenario(
  `version: 1
name: t
generate:
  crds: { count: 5 }
phases:
  - { name: install, op: create, of: crds, concurrency: 3 }
`,
  't.yaml',
);

describe('parseShard', () => {
  it('accepts i/N with 1 ≤ i ≤ N', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 });
  });
  it.each(['0/3', '4/3', '3', '1/0', 'a/b', '-1/2', '1.5/3', ''])('rejects %j with a usage error', (text) => {
    expect(() => parseShard(text)).toThrow(UsageError);
    expect(() => parseShard(text)).toThrow(/^--shard: expected i\/N/);
  });
});

describe('sliceAs', () => {
  it('words a refused split for --threads', () => {
    const refused = () => sliceAs('--threads 6', 'threads', () => threadSlices(FIVE_CRDS, 6));
    expect(refused).toThrow(UsageError);
    expect(refused).toThrow('--threads 6: cannot split 5 CRDs over 6 threads (some threads would install none)');
  });

  it('words a refused split for --shard, with a hint in the same terms', () => {
    let caught: unknown;
    try {
      sliceAs('--shard 1/6', 'shards', () => sliceScenario(FIVE_CRDS, 1, 6));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).message).toBe('--shard 1/6: cannot split 5 CRDs over 6 shards (some shards would install none)');
    expect((caught as UsageError).hint).toBe('use at most 5 shards, or more CRDs');
  });

  it('passes results and other errors through untouched', () => {
    expect(sliceAs('--threads 5', 'threads', () => threadSlices(FIVE_CRDS, 5)).map((s) => s.generate.crds!.count)).toEqual([1, 1, 1, 1, 1]);
    const other = new RangeError('x');
    expect(() =>
      sliceAs('--workers 2', 'shards', () => {
        throw other;
      }),
    ).toThrow(other);
  });
});
