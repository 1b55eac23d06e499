import type { CommandModule } from 'yargs';
import { renderPhaseTable } from '../reporters/table.js';
import { readRunDir } from '../results/store.js';
import { UsageError } from '../types/errors.js';
import type { Output } from './output.js';

export function reportCommand(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'report <run-dir>',
    describe: 'Re-render a saved run',
    builder: (y) =>
      y
        .positional('run-dir', { type: 'string', demandOption: true })
        .option('format', { choices: ['table', 'json'] as const, default: 'table' as const }),
    handler: async (argv) => {
      const dir = argv['run-dir'] as string;
      const saved = await readRunDir(dir).catch((err: Error) => {
        throw new UsageError(`${dir}: not a readable results directory (${err.message})`, 'pass a folder written by `asa-bench run`');
      });
      if (argv.format === 'json') out.data(JSON.stringify(saved, null, 2));
      else {
        out.data(`run ${saved.run.runId}: ${saved.run.scenario.name} on ${saved.run.target.server} (kube-apiserver ${saved.run.target.version.gitVersion}), ${saved.run.status}`);
        out.data(renderPhaseTable(saved.summary.phases));
      }
    },
  };
}
