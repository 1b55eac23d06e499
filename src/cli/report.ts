import type { CommandModule } from 'yargs';
import { renderPhaseCsv } from '../reporters/csv.js';
import { renderHtml } from '../reporters/html.js';
import { renderMarkdown } from '../reporters/markdown.js';
import { renderPhaseTable } from '../reporters/table.js';
import { readRunDir } from '../results/store.js';
import { reportInput } from '../results/writer.js';
import { UsageError } from '../types/errors.js';
import type { Output } from './output.js';

export function reportCommand(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'report <run-dir>',
    describe: 'Re-render a saved run as a table, Markdown, HTML, CSV or JSON',
    builder: (y) =>
      y
        .positional('run-dir', { type: 'string', demandOption: true })
        .option('format', { choices: ['table', 'md', 'html', 'csv', 'json'] as const, default: 'table' as const }),
    handler: async (argv) => {
      const dir = argv['run-dir'] as string;
      const saved = await readRunDir(dir).catch((err: Error) => {
        throw new UsageError(`${dir}: not a readable results directory (${err.message})`, 'pass a folder written by `asa-bench run`');
      });
      const input = reportInput(saved.run, saved.summary);
      switch (argv.format) {
        case 'json':
          out.data(JSON.stringify({ ...saved, analysis: input.analysis }, null, 2));
          break;
        case 'md':
          out.data(renderMarkdown(input));
          break;
        case 'html':
          out.data(renderHtml(input));
          break;
        case 'csv':
          out.data(renderPhaseCsv(saved.summary));
          break;
        default:
          out.data(`run ${saved.run.runId}: ${saved.run.scenario.name} on ${saved.run.target.server} (kube-apiserver ${saved.run.target.version.gitVersion}), ${saved.run.status}`);
          out.data(input.analysis!.headline);
          out.data(renderPhaseTable(saved.summary.phases));
      }
    },
  };
}
