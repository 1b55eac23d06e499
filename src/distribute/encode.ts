/**
 * How a worker pod hands its shard result to `distribute`: through its log.
 * The result files (run.json, summary.json, intervals.csv) go into one JSON
 * payload, gzip, base64 in 76-character lines, between marker lines:
 *
 *   =====BEGIN ASA-BENCH SHARD RESULT v1 shard=2/3 bytes=40213 sha256=<hex>=====
 *   H4sIAAAAAAAAA+y9a3fbRpI…
 *   =====END ASA-BENCH SHARD RESULT shard=2/3=====
 *
 * bytes and sha256 are those of the gzip data. A container log mixes stdout
 * with stderr (progress), so the decoder ignores everything outside the
 * markers and any line inside them that is not base64; the checksum then
 * proves that exactly the worker's bytes were put back together.
 * Logs are read through the API, never parsed from kubectl's text output.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { RunFailedError } from '../types/errors.js';

export const RESULT_FORMAT = 1;
export const RESULT_FILES = ['run.json', 'summary.json', 'intervals.csv'] as const;
export type ResultFileName = (typeof RESULT_FILES)[number];
const LINE_WIDTH = 76;
const BEGIN = 'ASA-BENCH SHARD RESULT';
const BEGIN_LINE = /^=====BEGIN ASA-BENCH SHARD RESULT v(\d+) shard=(\d+)\/(\d+) bytes=(\d+) sha256=([0-9a-f]{64})=====$/;
const END_LINE = /^=====END ASA-BENCH SHARD RESULT shard=(\d+)\/(\d+)=====$/;
const BASE64_LINE = /^[A-Za-z0-9+/]+={0,2}$/;

export interface ShardResult {
  format: typeof RESULT_FORMAT;
  /** 1-based shard index and shard count, as `run --shard i/N`. */
  shard: { index: number; count: number };
  /** What `run` would have exited with (0 complete, 1 SLO missed, 4 failed/partial, 130 interrupted). */
  exitCode: number;
  /** File name → content; run.json and summary.json always, intervals.csv when written. */
  files: Partial<Record<ResultFileName, string>>;
}

const ShardResultSchema = z.strictObject({
  format: z.literal(RESULT_FORMAT),
  shard: z.strictObject({ index: z.number().int().min(1), count: z.number().int().min(1) }),
  exitCode: z.number().int(),
  files: z.strictObject({ 'run.json': z.string(), 'summary.json': z.string(), 'intervals.csv': z.string().optional() }),
});

/** A shard result that is missing, cut off or damaged: the run has no complete result (exit 4). */
export class ShardResultError extends RunFailedError {}

export function encodeShardResult(result: ShardResult): string {
  const gz = gzipSync(Buffer.from(JSON.stringify(result), 'utf8'), { level: 9 });
  const sha = createHash('sha256').update(gz).digest('hex');
  const b64 = gz.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += LINE_WIDTH) lines.push(b64.slice(i, i + LINE_WIDTH));
  const { index, count } = result.shard;
  return [`=====BEGIN ${BEGIN} v${RESULT_FORMAT} shard=${index}/${count} bytes=${gz.length} sha256=${sha}=====`, ...lines, `=====END ${BEGIN} shard=${index}/${count}=====`, ''].join('\n');
}

export interface DecodeOptions {
  /** Where the log came from, for messages (e.g. `pod asa-bench-x-1-abcde`). */
  source?: string;
  /** The shard this log must hold. */
  expected?: { index: number; count: number };
}

/** The one shard result in a log; throws ShardResultError saying what is wrong. */
export function decodeShardResult(log: string, options: DecodeOptions = {}): ShardResult {
  const where = options.source ? `${options.source}: ` : '';
  const lines = log.split(/\r?\n/).map((l) => l.trim());
  const begins = lines.flatMap((l, i) => (l.startsWith(`=====BEGIN ${BEGIN}`) ? [i] : []));
  if (begins.length === 0) {
    throw new ShardResultError(`${where}no shard result in the log (no BEGIN ${BEGIN} line): the worker ended before printing it`, 'its last log lines say why; see also the pod status');
  }
  if (begins.length > 1) throw new ShardResultError(`${where}${begins.length} shard results in one log; expected exactly one`);
  const start = begins[0]!;
  const header = BEGIN_LINE.exec(lines[start]!);
  if (!header) throw new ShardResultError(`${where}malformed BEGIN line: ${lines[start]!.slice(0, 160)}`);
  const [, version, index, count, bytes, sha] = header as unknown as [string, string, string, string, string, string];
  if (Number(version) !== RESULT_FORMAT) {
    throw new ShardResultError(`${where}shard result format v${version}, this asa-bench reads v${RESULT_FORMAT}`, 'run the same asa-bench version in the image and here');
  }
  const end = lines.findIndex((l, i) => i > start && l.startsWith(`=====END ${BEGIN}`));
  if (end < 0) throw new ShardResultError(`${where}the shard result is cut off (BEGIN without END): the log was truncated or rotated`, 'container logs are rotated by size on the node (kubelet containerLogMaxSize); a smaller result or fewer progress lines help');
  const footer = END_LINE.exec(lines[end]!);
  if (!footer || footer[1] !== index || footer[2] !== count) throw new ShardResultError(`${where}END line does not match BEGIN (shard ${index}/${count}): ${lines[end]!.slice(0, 160)}`);

  // Lines that are not base64 are other output interleaved by the container runtime; the checksum settles the rest.
  const gz = Buffer.from(
    lines
      .slice(start + 1, end)
      .filter((l) => BASE64_LINE.test(l))
      .join(''),
    'base64',
  );
  if (gz.length !== Number(bytes) || createHash('sha256').update(gz).digest('hex') !== sha) {
    throw new ShardResultError(`${where}the shard result is damaged: ${gz.length} bytes with a different sha256, expected ${bytes} bytes with sha256 ${sha.slice(0, 12)}…`, 'the log lost or changed lines between the markers');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(gz).toString('utf8'));
  } catch (err) {
    throw new ShardResultError(`${where}the shard result does not unpack: ${(err as Error).message}`);
  }
  const checked = ShardResultSchema.safeParse(parsed);
  if (!checked.success) throw new ShardResultError(`${where}the shard result is not in the expected form: ${checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const result = checked.data as ShardResult;
  if (result.shard.index !== Number(index) || result.shard.count !== Number(count)) {
    throw new ShardResultError(`${where}the markers say shard ${index}/${count} but the result is shard ${result.shard.index}/${result.shard.count}`);
  }
  const expected = options.expected;
  if (expected && (expected.index !== result.shard.index || expected.count !== result.shard.count)) {
    throw new ShardResultError(`${where}expected the result of shard ${expected.index}/${expected.count}, found shard ${result.shard.index}/${result.shard.count}`);
  }
  return result;
}
