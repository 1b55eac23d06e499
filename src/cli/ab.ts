import path from 'node:path';
import type { CommandModule } from 'yargs';
import { buildFor } from '../controlplane/build-server.js';
import { resolveServerSpec, type ResolvedServer } from '../controlplane/resolve.js';
import { parseServerSpec, type ServerSpec } from '../controlplane/spec.js';
import { defaultRunDir } from '../results/store.js';
import { loadScenarioFile } from '../scenarios/parse.js';
import { UsageError } from '../types/errors.js';
import { COMPARE_OPTIONS, loadNoise, loadRuns, printComparison, type CompareArgs } from './compare.js';
import type { Output } from './output.js';
import { Interrupts } from './interrupts.js';
import { repetitionDir, runRepetition } from './repetition.js';

interface AbArgs extends CompareArgs {
  scenario: string;
  baseline?: string;
  candidate?: string;
  'baseline-version'?: string;
  'candidate-version'?: string;
  repeat: number;
  out?: string;
  connections: number;
  http2: boolean;
  'allow-huge': boolean;
  'baseline-apiserver-arg'?: string[];
  'candidate-apiserver-arg'?: string[];
}

export function abCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'ab <scenario>',
    describe: 'Run a scenario on two server builds (local control plane), interleaving repetitions, then compare',
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', demandOption: true })
        .option('baseline', { type: 'string', describe: 'server spec A, e.g. v1.37.2 (see --server)' })
        .option('candidate', { type: 'string', describe: 'server spec B, e.g. source=../kubernetes or v1.37.2,arg=--watch-cache=false' })
        .option('baseline-version', { type: 'string', describe: 'shorthand for --baseline vX.Y.Z' })
        .option('candidate-version', { type: 'string', describe: 'shorthand for --candidate vX.Y.Z' })
        .option('repeat', { type: 'number', default: 3, describe: 'repetitions per build (≥3 enables the significance test)' })
        .option('out', { type: 'string', describe: 'folder for both sides (default: results/<timestamp>-ab-<scenario>)' })
        .option('connections', { type: 'number', default: 32 })
        .option('http2', { type: 'boolean', default: false })
        .option('allow-huge', { type: 'boolean', default: false })
        .option('baseline-apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for the baseline only (repeatable; same as arg= in --baseline)' })
        .option('candidate-apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for the candidate only (repeatable; same as arg= in --candidate), e.g. --candidate-apiserver-arg=--watch-cache=false' })
        .options(COMPARE_OPTIONS)
        .example('$0 ab scenarios/crds-500.yaml --baseline-version v1.36.3 --candidate-version v1.37.2 --repeat 3', 'two releases')
        .example('$0 ab scenarios/smoke.yaml --baseline v1.37.2 --candidate source=../kubernetes --repeat 3', 'a release against a patched tree')
        .example('$0 ab scenarios/reads-small.yaml --baseline v1.37.2 --candidate v1.37.2,arg=--watch-cache=false', 'two flags'),
    handler: async (argv) => {
      const args = argv as unknown as AbArgs;
      // Both specs are parsed and resolved (trees hashed, binaries checked) before anything starts.
      const specs = [
        sideSpec('baseline', args.baseline, args['baseline-version'], args['baseline-apiserver-arg']),
        sideSpec('candidate', args.candidate, args['candidate-version'], args['candidate-apiserver-arg']),
      ];
      const loaded = await loadScenarioFile(args.scenario, { allowHuge: args['allow-huge'] });
      const noise = await loadNoise(args.noise);
      const resolved = [await resolveServerSpec(specs[0]!), await resolveServerSpec(specs[1]!)];
      const root = args.out ?? defaultRunDir(path.resolve('results'), `ab-${loaded.doc.name}`, new Date());
      const sides: { name: string; resolved: ResolvedServer }[] = [
        { name: 'baseline', resolved: resolved[0]! },
        { name: 'candidate', resolved: resolved[1]! },
      ];
      // Build both sides first: a candidate that does not build fails before the baseline runs.
      // Ctrl-C stops a build under way (its go processes are killed, nothing is written).
      const interrupts = new Interrupts(out, { stopping: 'stopping the build; nothing is written', skipping: () => ['still stopping the build'] }).install();
      try {
        for (const side of sides) {
          out.progress(`${side.name}: ${side.resolved.label}`);
          await buildFor(side.resolved, out.reporter, interrupts.stop.signal);
        }
      } finally {
        interrupts.dispose();
      }
      for (let rep = 1; rep <= args.repeat; rep++) {
        // Alternate which build goes first so slow drift of the machine hits both sides alike.
        const order = rep % 2 === 1 ? sides : [...sides].reverse();
        for (const side of order) {
          out.progress(`repetition ${rep}/${args.repeat}: ${side.name} (${side.resolved.label})`);
          const { code, measured } = await runRepetition(args, side.resolved, repetitionDir(path.join(root, side.name), rep), out);
          if (!measured) {
            out.error(`asa-bench: ${side.name} repetition ${rep} ended with exit code ${code}; stopping`);
            setExit(code);
            return;
          }
        }
      }
      const [baseline, candidate] = await Promise.all([loadRuns(path.join(root, 'baseline')), loadRuns(path.join(root, 'candidate'))]);
      out.progress(`results: ${root}`);
      setExit(printComparison(out, args, baseline, candidate, noise));
    },
  };
}

/** One side's spec: `--baseline SPEC` or `--baseline-version V` (one of them), plus `--baseline-apiserver-arg` flags. */
function sideSpec(side: 'baseline' | 'candidate', spec: string | undefined, version: string | undefined, apiserverArgs: readonly string[] = []): ServerSpec {
  if (spec === undefined && version === undefined) throw new UsageError(`ab: name the ${side} server`, `pass --${side} SPEC (e.g. v1.37.2 or source=DIR) or --${side}-version vX.Y.Z`);
  if (spec !== undefined && version !== undefined) throw new UsageError(`ab: --${side} and --${side}-version both name the ${side} server; give one`);
  const text = [(spec ?? version)!, ...apiserverArgs.map((a) => `arg=${a}`)].join(',');
  return parseServerSpec(text, spec !== undefined ? `--${side}` : `--${side}-version`);
}
