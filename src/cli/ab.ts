import path from 'node:path';
import type { CommandModule } from 'yargs';
import { parseServerVersion } from '../controlplane/build.js';
import { defaultRunDir } from '../results/store.js';
import { loadScenarioFile } from '../scenarios/load.js';
import { ExitCode } from '../types/errors.js';
import { COMPARE_OPTIONS, loadNoise, loadRuns, printComparison, type CompareArgs } from './compare.js';
import type { Output } from './output.js';
import { runScenario } from './run.js';

interface AbArgs extends CompareArgs {
  scenario: string;
  'baseline-version': string;
  'candidate-version': string;
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
    describe: 'Run a scenario on two kube-apiserver builds (local control plane), interleaving repetitions, then compare',
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', demandOption: true })
        .option('baseline-version', { type: 'string', demandOption: true, describe: 'kube-apiserver version A, e.g. v1.36.3' })
        .option('candidate-version', { type: 'string', demandOption: true, describe: 'kube-apiserver version B, e.g. v1.37.2' })
        .option('repeat', { type: 'number', default: 3, describe: 'repetitions per build (≥3 enables the significance test)' })
        .option('out', { type: 'string', describe: 'folder for both sides (default: results/<timestamp>-ab-<scenario>)' })
        .option('connections', { type: 'number', default: 32 })
        .option('http2', { type: 'boolean', default: false })
        .option('allow-huge', { type: 'boolean', default: false })
        .option('baseline-apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for the baseline only (repeatable)' })
        .option('candidate-apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for the candidate only (repeatable), e.g. --candidate-apiserver-arg=--watch-cache=false' })
        .options(COMPARE_OPTIONS)
        .example('$0 ab scenarios/crds-500.yaml --baseline-version v1.36.3 --candidate-version v1.37.2 --repeat 3', ''),
    handler: async (argv) => {
      const args = argv as unknown as AbArgs;
      parseServerVersion(args['baseline-version']);
      parseServerVersion(args['candidate-version']);
      const loaded = await loadScenarioFile(args.scenario, { allowHuge: args['allow-huge'] });
      const noise = await loadNoise(args.noise);
      const root = args.out ?? defaultRunDir(path.resolve('results'), `ab-${loaded.doc.name}`, new Date());
      const sides = [
        { name: 'baseline', version: args['baseline-version'], apiserverArgs: args['baseline-apiserver-arg'] ?? [] },
        { name: 'candidate', version: args['candidate-version'], apiserverArgs: args['candidate-apiserver-arg'] ?? [] },
      ];
      for (let rep = 1; rep <= args.repeat; rep++) {
        // Alternate which build goes first so slow drift of the machine hits both sides alike.
        const order = rep % 2 === 1 ? sides : [...sides].reverse();
        for (const side of order) {
          out.progress(`repetition ${rep}/${args.repeat}: ${side.name} (kube-apiserver ${side.version}${side.apiserverArgs.length ? ` ${side.apiserverArgs.join(' ')}` : ''})`);
          const code = await runScenario(
            {
              scenario: args.scenario,
              'server-version': side.version,
              'apiserver-arg': side.apiserverArgs,
              out: path.join(root, side.name, `rep-${String(rep).padStart(2, '0')}`),
              keep: false,
              'allow-huge': args['allow-huge'],
              'dry-run': false,
              json: false,
              connections: args.connections,
              http2: args.http2,
              quiet: true,
            },
            out,
          );
          if (code !== ExitCode.ok && code !== ExitCode.regression) {
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
