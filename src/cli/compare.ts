import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { compareRuns, DEFAULT_THRESHOLDS, type Comparison, type Thresholds } from '../compare/compare.js';
import { parseNoise, type NoiseFile } from '../compare/noise.js';
import { renderCompareCsv, renderCompareJson, renderCompareMarkdown, renderCompareTable } from '../compare/render.js';
import { readRunDir, RUN_FILE } from '../results/store.js';
import { ExitCode, UsageError } from '../types/errors.js';
import type { RunInfo, RunSummary } from '../types/results.js';
import type { Output } from './output.js';
import { durationOption } from './duration-option.js';

export const COMPARE_OPTIONS = {
  format: { choices: ['table', 'md', 'csv', 'json'] as const, default: 'table' as const, describe: 'output format (md suits a GitHub step summary)' },
  'threshold-p99': { type: 'number', default: DEFAULT_THRESHOLDS.p99 * 100, describe: 'p99 increase that is a regression, percent' },
  'threshold-throughput': { type: 'number', default: DEFAULT_THRESHOLDS.throughput * 100, describe: 'throughput decrease that is a regression, percent' },
  'p99-floor-ms': durationOption('p99-floor-ms', { default: `${DEFAULT_THRESHOLDS.p99FloorMs}ms`, bareUnit: 'ms', min: 0, describe: 'ignore changes of the compared percentile smaller than this' }),
  alpha: { type: 'number', default: DEFAULT_THRESHOLDS.alpha, describe: 'false-discovery rate across the rows\' tests (Benjamini-Hochberg)' },
  noise: { type: 'string', describe: 'noise file from `asa-bench calibrate`: call only changes beyond the spread of identical runs' },
} as const;

export interface CompareArgs {
  format: 'table' | 'md' | 'csv' | 'json';
  'threshold-p99': number;
  'threshold-throughput': number;
  'p99-floor-ms': number;
  alpha: number;
  noise?: string;
}

export function compareCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'compare <baseline> <candidate>',
    describe: 'Compare two runs (or two folders of repetitions): deltas per step/phase/operation and a verdict; exit 1 on regression',
    builder: (y) =>
      y
        .positional('baseline', { type: 'string', demandOption: true, describe: 'a results directory, or a folder of them (repetitions)' })
        .positional('candidate', { type: 'string', demandOption: true })
        .options(COMPARE_OPTIONS),
    handler: async (argv) => {
      const args = argv as unknown as CompareArgs & { baseline: string; candidate: string };
      const [baseline, candidate, noise] = await Promise.all([loadRuns(args.baseline), loadRuns(args.candidate), loadNoise(args.noise)]);
      setExit(printComparison(out, args, baseline, candidate, noise));
    },
  };
}

export function thresholdsFrom(args: CompareArgs): Thresholds {
  return { ...DEFAULT_THRESHOLDS, p99: args['threshold-p99'] / 100, throughput: args['threshold-throughput'] / 100, p99FloorMs: args['p99-floor-ms'], alpha: args.alpha };
}

/** Reads `--noise FILE` (undefined when not given). */
export async function loadNoise(file: string | undefined): Promise<NoiseFile | undefined> {
  if (file === undefined) return undefined;
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new UsageError(`--noise ${file}: cannot read (${err.message})`, 'write one with `asa-bench calibrate <scenario> --repeat 5`');
  });
  return parseNoise(text, file);
}

/** Warnings for noise measured on something else than what is compared: it still applies, but says less. */
function noiseWarnings(out: Output, noise: NoiseFile, runs: LoadedRuns): void {
  const run = runs.runs[0]!;
  if (noise.scenario.sha256 !== run.scenario.sha256) out.error(`warning: the noise file was calibrated with another scenario file (${noise.scenario.name}); rows it lacks are tested without it`);
  if (noise.machine.cores !== run.machine.cores || noise.machine.platform !== run.machine.platform) {
    out.error(`warning: the noise file was calibrated on another kind of machine (${noise.machine.cores} cores, ${noise.machine.platform}); noise depends on the machine`);
  }
}

export const exitCodeOf = (c: Comparison): number =>
  c.verdict === 'regression' ? ExitCode.regression : c.verdict === 'inconclusive' ? ExitCode.inconclusive : ExitCode.ok;

export function printComparison(out: Output, args: CompareArgs, baseline: LoadedRuns, candidate: LoadedRuns, noise?: NoiseFile): number {
  if (baseline.runs[0]!.scenario.sha256 !== candidate.runs[0]!.scenario.sha256) {
    out.error(`warning: the runs used different scenario files (${baseline.runs[0]!.scenario.name} vs ${candidate.runs[0]!.scenario.name}); rows that differ show as only-in-one-side`);
  }
  if (noise) noiseWarnings(out, noise, candidate);
  const comparison = compareRuns(baseline.summaries, candidate.summaries, thresholdsFrom(args), noise);
  const labels = { baseline: baseline.label, candidate: candidate.label };
  switch (args.format) {
    case 'json':
      out.data(renderCompareJson(comparison, labels));
      break;
    case 'csv':
      out.data(renderCompareCsv(comparison));
      break;
    case 'md':
      out.data(renderCompareMarkdown(comparison, labels));
      break;
    default:
      out.data(renderCompareTable(comparison, labels));
  }
  return exitCodeOf(comparison);
}

export interface LoadedRuns {
  label: string;
  runs: RunInfo[];
  summaries: RunSummary[];
}

/** One results directory, or a folder whose subfolders are results directories (repetitions). */
export async function loadRuns(dir: string): Promise<LoadedRuns> {
  const isRun = await stat(path.join(dir, RUN_FILE)).then(() => true, () => false);
  const dirs = isRun
    ? [dir]
    : await readdir(dir, { withFileTypes: true }).then(
        async (entries) => {
          const subdirs = entries.filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name)).sort();
          const runs = [];
          for (const d of subdirs) if (await stat(path.join(d, RUN_FILE)).then(() => true, () => false)) runs.push(d);
          return runs;
        },
        () => [],
      );
  if (dirs.length === 0) throw new UsageError(`${dir}: no run.json here or in its subfolders`, 'pass a folder written by `asa-bench run` (or by `asa-bench ab`)');
  const loaded = await Promise.all(
    dirs.map((d) =>
      readRunDir(d).catch((err: Error) => {
        throw new UsageError(`${d}: cannot read results (${err.message})`);
      }),
    ),
  );
  const first = loaded[0]!.run;
  // The server spec's label says what was built ("source=kubernetes (patched, 3f2a9c1e)"); older results only have /version.
  const label = `${first.server?.label ?? first.target.version.gitVersion}${loaded.length > 1 ? ` ×${loaded.length}` : ''} (${path.basename(dir)})`;
  return { label, runs: loaded.map((l) => l.run), summaries: loaded.map((l) => l.summary) };
}
