/**
 * One repetition of a scenario on a resolved server spec, as `ab` and
 * `calibrate` run them: quiet (the caller prints one comparison), cleanup on,
 * results in `dir`. One place, so both commands measure runs made the same way.
 */
import path from 'node:path';
import type { ResolvedServer } from '../controlplane/resolve.js';
import { ExitCode } from '../types/errors.js';
import type { Output } from './output.js';
import { runScenario } from './run.js';

export interface RepetitionArgs {
  scenario: string;
  'allow-huge': boolean;
  connections: number;
  http2: boolean;
}

/** `rep-01`, `rep-02`, ...: folder names that sort in run order. */
export function repetitionDir(root: string, rep: number): string {
  return path.join(root, `rep-${String(rep).padStart(2, '0')}`);
}

/** Runs one repetition; `measured` is false when it ended other than ok or an SLO missed (1), which still measured. */
export async function runRepetition(args: RepetitionArgs, resolved: ResolvedServer, dir: string, out: Output): Promise<{ code: number; measured: boolean }> {
  const code = await runScenario(
    {
      scenario: args.scenario,
      resolvedServer: resolved,
      out: dir,
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
  return { code, measured: code === ExitCode.ok || code === ExitCode.regression };
}
