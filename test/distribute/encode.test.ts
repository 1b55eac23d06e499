/**
 * Shard results through a pod log: encode → log text (with whatever else the
 * container printed) → decode gives the same files back; a missing, cut-off,
 * damaged or misplaced block is a clear ShardResultError (exit 4).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeShardResult, encodeShardResult, ShardResultError, type ShardResult } from '../../src/distribute/encode.js';
import { ExitCode } from '../../src/types/errors.js';

function result(index = 2, count = 3, extra: Partial<ShardResult['files']> = {}): ShardResult {
  return {
    format: 1,
    shard: { index, count },
    exitCode: 0,
    files: {
      'run.json': `${JSON.stringify({ runId: 'rabc1234', shard: { index, count }, note: 'ünïcödé ✓' }, null, 2)}\n`,
      'summary.json': `${JSON.stringify({ phases: [{ phase: 'get', ops: [{ op: 'get.quorum', count: 33, histogram: randomBytes(3000).toString('base64') }] }] })}\n`,
      'intervals.csv': 't_s,step,level,phase,op,count\n1,0,20,get,get.quorum,33\n',
      ...extra,
    },
  };
}

const progress = (n: number) => Array.from({ length: n }, (_, i) => `[  ${i}.0s] step 0 (7 CRDs) ▸ get: ${i}/33 done, 0 errors`).join('\n');

describe('encode → decode', () => {
  it('round-trips the files exactly, in short base64 lines between markers', () => {
    const r = result();
    const block = encodeShardResult(r);
    const lines = block.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^=====BEGIN ASA-BENCH SHARD RESULT v1 shard=2\/3 bytes=\d+ sha256=[0-9a-f]{64}=====$/);
    expect(lines.at(-1)).toBe('=====END ASA-BENCH SHARD RESULT shard=2/3=====');
    for (const l of lines.slice(1, -1)) expect(l.length).toBeLessThanOrEqual(76);
    expect(decodeShardResult(block)).toEqual(r);
  });

  it('finds the block among progress output, CRLF line ends and lines interleaved inside it', () => {
    const r = result(1, 3);
    const blockLines = encodeShardResult(r).trimEnd().split('\n');
    // stderr lines can land between stdout lines in a container log.
    const interleaved = [blockLines[0], blockLines[1], '[  9.9s] cleanup: deleting 7 CRDs', ...blockLines.slice(2, -1), 'warning: something, late', blockLines.at(-1)];
    const log = `${progress(20)}\n${interleaved.join('\r\n')}\r\n${progress(3)}\n`;
    expect(decodeShardResult(log, { expected: { index: 1, count: 3 } })).toEqual(r);
  });

  it('keeps a result without intervals.csv, and large payloads', () => {
    const { 'intervals.csv': _dropped, ...files } = result().files;
    const small: ShardResult = { ...result(), files };
    expect(decodeShardResult(encodeShardResult(small)).files).toEqual(files);
    const big = result(3, 3, { 'intervals.csv': randomBytes(600_000).toString('hex') });
    expect(decodeShardResult(`noise\n${encodeShardResult(big)}more noise\n`).files['intervals.csv']).toBe(big.files['intervals.csv']);
  });
});

describe('what goes wrong, said clearly', () => {
  const decodeError = (log: string, options = {}) => {
    try {
      decodeShardResult(log, options);
    } catch (err) {
      expect(err).toBeInstanceOf(ShardResultError);
      expect((err as ShardResultError).exitCode).toBe(ExitCode.runFailed);
      return (err as Error).message;
    }
    throw new Error('decoded without an error');
  };
  const block = encodeShardResult(result());

  it('no block at all', () => {
    expect(decodeError(`${progress(5)}\nError: connect ECONNREFUSED 10.96.0.1:443\n`, { source: 'pod p-1' })).toMatch(/^pod p-1: no shard result in the log \(no BEGIN/);
  });

  it('a block without its END marker (truncated log)', () => {
    const cut = block.split('\n').slice(0, 5).join('\n');
    expect(decodeError(cut)).toMatch(/cut off \(BEGIN without END\)/);
  });

  it('a changed or lost line between the markers', () => {
    const lines = block.split('\n');
    const changed = [...lines];
    changed[2] = changed[2]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    expect(decodeError(changed.join('\n'))).toMatch(/damaged.*different sha256/);
    const lost = [...lines.slice(0, 3), ...lines.slice(4)];
    expect(decodeError(lost.join('\n'))).toMatch(/damaged/);
  });

  it('a malformed marker, an END of another shard, two blocks', () => {
    expect(decodeError(block.replace(/sha256=[0-9a-f]{64}/, 'sha256=xyz'))).toMatch(/malformed BEGIN line/);
    expect(decodeError(block.replace('END ASA-BENCH SHARD RESULT shard=2/3', 'END ASA-BENCH SHARD RESULT shard=1/3'))).toMatch(/END line does not match BEGIN/);
    expect(decodeError(`${block}${block}`)).toMatch(/2 shard results in one log/);
  });

  it('a result of another shard than the pod ran, or of another format', () => {
    expect(decodeError(block, { expected: { index: 1, count: 3 } })).toMatch(/expected the result of shard 1\/3, found shard 2\/3/);
    expect(decodeError(block.replace('SHARD RESULT v1 ', 'SHARD RESULT v9 '))).toMatch(/format v9/);
  });

  it('markers that lie about the payload, and payloads of the wrong form', () => {
    // Valid gzip and checksum, but the header's shard differs from the payload's.
    const other = encodeShardResult(result(1, 3)).replace(/shard=1\/3/g, 'shard=2/3');
    expect(decodeError(other)).toMatch(/markers say shard 2\/3 but the result is shard 1\/3/);
    const bad = encodeShardResult({ ...result(), files: { 'run.json': '{}' } } as unknown as ShardResult);
    expect(decodeError(bad)).toMatch(/not in the expected form: files\.summary\.json/);
    const smuggled = encodeShardResult({ ...result(), files: { ...result().files, '../../etc/passwd': 'x' } } as unknown as ShardResult);
    expect(decodeError(smuggled)).toMatch(/not in the expected form/);
  });
});
