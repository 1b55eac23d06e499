/**
 * Calibrated noise: how much the same build differs from itself between
 * identical runs on this machine, per row. `asa-bench calibrate` writes it
 * (noise.json); `compare --noise` and `ab --noise` pool it into the test, so a
 * change is called only beyond it, and say how small a change a row can show.
 *
 * Per row and figure, the spread is the sample variance of the figure's
 * logarithm over the runs (runs − 1 degrees of freedom); repetitions whose
 * phase saturated the harness are left out, and a percentile is kept only
 * where every run had the samples it needs (rows.ts).
 */
import { z } from 'zod';
import { UsageError } from '../types/errors.js';
import type { RunSummary } from '../types/results.js';
import { collectRows, minSamplesFor, rowKey, serverPaced, STATISTICS, unsaturated, type Statistic } from './rows.js';
import { criticalChange, LOG_VARIANCE_FLOOR, logOf, variance, type NoiseVariance } from './stats.js';

const figure = z.object({ values: z.array(z.number().nonnegative()).min(2), logVariance: z.number().nonnegative() }).strict();

const noiseRow = z
  .object({
    step: z.number().int().nonnegative(),
    phase: z.string(),
    op: z.string(),
    /** Fewest successful requests in one run. */
    samples: z.number().int().nonnegative(),
    /** Runs left out because the harness saturated in this phase. */
    saturatedRuns: z.number().int().nonnegative(),
    /** A duration-bound closed phase: its throughput is judged too (rows.ts). */
    serverPaced: z.boolean(),
    latency: z.object({ p99: figure.optional(), p90: figure.optional(), p50: figure.optional() }).strict(),
    throughput: figure.optional(),
  })
  .strict();

const noiseFileSchema = z
  .object({
    kind: z.literal('asa-bench-noise'),
    formatVersion: z.literal(1),
    scenario: z.object({ name: z.string(), sha256: z.string() }).strict(),
    /** The build measured against itself, as its /version tells. */
    server: z.string(),
    machine: z.object({ cores: z.number(), memoryBytes: z.number(), platform: z.string() }).strict(),
    createdAt: z.string(),
    runs: z.number().int().min(2),
    rows: z.array(noiseRow),
  })
  .strict();

export type NoiseFile = z.infer<typeof noiseFileSchema>;
export type NoiseRow = z.infer<typeof noiseRow>;

export interface NoiseMeta {
  scenario: { name: string; sha256: string };
  server: string;
  machine: { cores: number; memoryBytes: number; platform: string };
  createdAt: string;
}

/** What calibration or a comparison lacks: more runs of one build, or a noise file as calibration writes it (the CLI says how). */
export class NoiseInputError extends UsageError {
  constructor(
    message: string,
    readonly lacks: 'runs' | 'noise-file',
  ) {
    super(message);
  }
}

/** The spread of every row over `runs` of one build. Needs two runs or more. */
export function buildNoise(runs: readonly RunSummary[], meta: NoiseMeta): NoiseFile {
  if (runs.length < 2) throw new NoiseInputError(`calibration needs at least 2 runs of the same build, got ${runs.length}`, 'runs');
  const rows: NoiseRow[] = [];
  for (const row of collectRows(runs).values()) {
    const usable = unsaturated(row.reps);
    const samples = usable.length ? Math.min(...usable.map((r) => r.op.ok)) : 0;
    const latency: NoiseRow['latency'] = {};
    if (usable.length >= 2) {
      for (const { stat } of STATISTICS) {
        if (samples < minSamplesFor(stat)) continue;
        const values = usable.map((r) => r.op.latencyMs[stat]);
        latency[stat] = { values, logVariance: variance(logOf(values)) };
      }
    }
    const throughputs = usable.map((r) => r.op.throughput);
    rows.push({
      step: row.step,
      phase: row.phase,
      op: row.op,
      samples,
      saturatedRuns: row.reps.length - usable.length,
      serverPaced: serverPaced(row.reps[0]!.phase),
      latency,
      ...(usable.length >= 2 && throughputs.every((t) => t > 0) ? { throughput: { values: throughputs, logVariance: variance(logOf(throughputs)) } } : {}),
    });
  }
  rows.sort((x, y) => x.step - y.step || x.phase.localeCompare(y.phase) || x.op.localeCompare(y.op));
  return { kind: 'asa-bench-noise', formatVersion: 1, ...meta, runs: runs.length, rows };
}

/** Reads a noise file's JSON text; one-line error naming the file and the first problem. */
export function parseNoise(text: string, file: string): NoiseFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new NoiseInputError(`${file}: not JSON (${(err as Error).message})`, 'noise-file');
  }
  const parsed = noiseFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NoiseInputError(`${file}: not a noise file: ${issue.path.join('.') || '(top)'}: ${issue.message}`, 'noise-file');
  }
  return parsed.data;
}

/** Looks up calibrated rows by step ▸ phase ▸ operation. */
export class NoiseIndex {
  private readonly rows = new Map<string, NoiseRow>();
  constructor(readonly file: NoiseFile) {
    for (const r of file.rows) this.rows.set(rowKey(r.step, r.phase, r.op), r);
  }

  latency(step: number, phase: string, op: string, stat: Statistic): NoiseVariance | undefined {
    const f = this.rows.get(rowKey(step, phase, op))?.latency[stat];
    return f && { variance: f.logVariance, dof: f.values.length - 1 };
  }

  throughput(step: number, phase: string, op: string): NoiseVariance | undefined {
    const f = this.rows.get(rowKey(step, phase, op))?.throughput;
    return f && { variance: f.logVariance, dof: f.values.length - 1 };
  }
}

/**
 * The smallest relative change of a figure that a comparison of `repeat` vs
 * `repeat` runs calls at one-sided `level`, from the calibrated spread alone.
 */
export function detectableChange(noise: NoiseVariance, repeat: number, level: number): number {
  const se = Math.sqrt(Math.max(noise.variance, LOG_VARIANCE_FLOOR) * (2 / repeat));
  return criticalChange(se, noise.dof + 2 * (repeat - 1), level);
}

/** What a noise file says a comparison of `repeat` vs `repeat` runs can detect, per row, on its highest percentile. */
export interface Detection {
  step: number;
  phase: string;
  op: string;
  stat?: Statistic;
  samples: number;
  runs: number;
  saturatedRuns: number;
  /** Standard deviation of the log figure between identical runs (≈ relative spread). */
  spread?: number;
  /** Smallest change called when it is the only row that changed (Benjamini-Hochberg's strictest level, α/m). */
  detectable?: number;
}

export function detections(noise: NoiseFile, repeat: number, alpha: number): { tests: number; rows: Detection[] } {
  // The tests a comparison will run: latency of every row with enough samples, and throughput of those that are server-paced.
  const tests = noise.rows.reduce((n, r) => n + (Object.keys(r.latency).length > 0 ? 1 + (r.serverPaced && r.throughput ? 1 : 0) : 0), 0);
  const rows = noise.rows.map((r): Detection => {
    const stat = STATISTICS.find((s) => r.latency[s.stat])?.stat;
    const f = stat && r.latency[stat];
    const base = { step: r.step, phase: r.phase, op: r.op, samples: r.samples, runs: f ? f.values.length : 0, saturatedRuns: r.saturatedRuns };
    if (!f) return base;
    const v = { variance: f.logVariance, dof: f.values.length - 1 };
    return { ...base, stat, spread: Math.sqrt(f.logVariance), detectable: detectableChange(v, repeat, alpha / Math.max(tests, 1)) };
  });
  return { tests, rows };
}
