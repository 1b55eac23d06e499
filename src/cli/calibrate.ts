/**
 * `asa-bench calibrate`: the same build against itself. Runs a scenario N
 * times on one kube-apiserver build (or reads runs already made with
 * `--from`), writes noise.json (per row, the spread between identical runs)
 * and prints how small a change `compare`/`ab --noise` can detect per row.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DEFAULT_THRESHOLDS } from '../compare/compare.js';
import { buildNoise } from '../compare/noise.js';
import { renderNoise } from '../compare/render.js';
import { defaultRunDir } from '../results/store.js';
import { loadScenarioFile } from '../scenarios/parse.js';
import { AsaError, ExitCode, UsageError, type ExitCodeValue } from '../types/errors.js';
import { loadRuns, type LoadedRuns } from './compare.js';
import type { Output } from './output.js';
import { repetitionDir, runRepetition } from './repetition.js';
import { resolveServerSpec } from '../controlplane/resolve.js';
import { SERVER_OPTIONS, serverSpecFromArgs } from './target.js';

interface CalibrateArgs {
  scenario?: string;
  from?: string[];
  repeat: number;
  server?: string;
  'server-version'?: string;
  'apiserver-arg'?: string[];
  out?: string;
  'noise-file'?: string;
  'plan-repeat': number;
  alpha: number;
  connections: number;
  http2: boolean;
  'allow-huge': boolean;
}

export function calibrateCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'calibrate [scenario]',
    describe: 'Run a scenario repeatedly on one build (A/A) and write the noise between identical runs (noise.json) for compare/ab --noise',
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', describe: 'scenario file to run (omit with --from)' })
        .option('repeat', { type: 'number', default: 5, describe: 'runs of the same build (≥ 2; more runs, a better noise estimate)' })
        .option('from', { type: 'string', array: true, describe: 'make the noise file from runs already made (run folders, or folders of them) instead of running' })
        .options(SERVER_OPTIONS)
        .option('apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for the local control plane (repeatable)' })
        .option('out', { type: 'string', describe: 'folder for the runs (default: results/<timestamp>-calibrate-<scenario>)' })
        .option('noise-file', { type: 'string', describe: 'where to write the noise file (default: noise.json in the runs folder)' })
        .option('plan-repeat', { type: 'number', default: 3, describe: 'repetitions per side of the comparisons to plan for (what the detection figures assume)' })
        .option('alpha', { type: 'number', default: DEFAULT_THRESHOLDS.alpha, describe: 'false-discovery rate the comparisons will use' })
        .option('connections', { type: 'number', default: 32 })
        .option('http2', { type: 'boolean', default: false })
        .option('allow-huge', { type: 'boolean', default: false })
        .example('$0 calibrate scenarios/reads-small.yaml --repeat 6', 'six runs of v1.37.2 against itself')
        .example('$0 calibrate --from results/ab-x/baseline results/ab-x/candidate', 'the noise of an A/A `ab` already run'),
    handler: async (argv) => {
      const args = argv as unknown as CalibrateArgs;
      if (args['plan-repeat'] < 1 || !Number.isInteger(args['plan-repeat'])) throw new UsageError(`--plan-repeat: expected a whole number ≥ 1, got ${args['plan-repeat']}`);
      const { runs, dir } = args.from?.length ? await fromFolders(args.from) : await runRepetitions(args, out);
      const first = runs.runs[0]!;
      const noise = buildNoise(runs.summaries, {
        scenario: { name: first.scenario.name, sha256: first.scenario.sha256 },
        server: `${first.target.version.gitVersion}${apiserverArgsOf(first.flags)}`,
        machine: first.machine,
        createdAt: new Date().toISOString(),
      });
      const file = args['noise-file'] ?? path.join(dir, 'noise.json');
      await writeFile(file, `${JSON.stringify(noise, null, 2)}\n`);
      out.data(renderNoise(noise, args['plan-repeat'], args.alpha));
      out.progress(`noise file: ${file} (use it with compare/ab --noise ${file})`);
      setExit(ExitCode.ok);
    },
  };
}

const apiserverArgsOf = (flags: Record<string, unknown>): string => {
  const extra = flags.apiserverArgs;
  return Array.isArray(extra) && extra.length ? ` ${extra.join(' ')}` : '';
};

async function fromFolders(folders: string[]): Promise<{ runs: LoadedRuns; dir: string }> {
  const loaded = await Promise.all(folders.map((f) => loadRuns(f)));
  const shas = new Set(loaded.flatMap((l) => l.runs.map((r) => r.scenario.sha256)));
  if (shas.size > 1) throw new UsageError('--from: the runs used different scenario files; calibrate one scenario at a time');
  const versions = new Set(loaded.flatMap((l) => l.runs.map((r) => `${r.target.version.gitVersion}${apiserverArgsOf(r.flags)}`)));
  if (versions.size > 1) throw new UsageError(`--from: the runs are of different builds (${[...versions].join(', ')}); noise is the spread of one build against itself`);
  return {
    runs: { label: loaded[0]!.label, runs: loaded.flatMap((l) => l.runs), summaries: loaded.flatMap((l) => l.summaries) },
    dir: folders[0]!,
  };
}

/** N runs of one build, one after another; a run that fails stops the calibration with its exit code. */
async function runRepetitions(args: CalibrateArgs, out: Output): Promise<{ runs: LoadedRuns; dir: string }> {
  if (args.scenario === undefined) throw new UsageError('calibrate: name a scenario file, or pass --from with runs already made');
  if (!Number.isInteger(args.repeat) || args.repeat < 2) throw new UsageError(`--repeat: expected a whole number ≥ 2, got ${args.repeat}`, 'noise is a spread: it takes two runs at least, five or more to mean much');
  const scenario = args.scenario;
  const loaded = await loadScenarioFile(scenario, { allowHuge: args['allow-huge'] });
  // The spec (--server, or --server-version/--apiserver-arg) is resolved once, before the first run.
  const resolved = await resolveServerSpec(serverSpecFromArgs(args));
  const root = args.out ?? defaultRunDir(path.resolve('results'), `calibrate-${loaded.doc.name}`, new Date());
  for (let rep = 1; rep <= args.repeat; rep++) {
    out.progress(`calibration run ${rep}/${args.repeat} (${resolved.label})`);
    const { code, measured } = await runRepetition({ ...args, scenario }, resolved, repetitionDir(root, rep), out);
    // An SLO missed (1) still measured what it measured; anything else stops the calibration.
    if (!measured) {
      throw new AsaError(`calibration run ${rep} ended with exit code ${code}; stopping (runs so far in ${root})`, code as ExitCodeValue);
    }
  }
  return { runs: await loadRuns(root), dir: root };
}
