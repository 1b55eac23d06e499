import type { CommandModule } from 'yargs';
import { cleanup } from '../engine/cleanup.js';
import { RUN_ID } from '../generators/run-id.js';
import { ExitCode, UsageError } from '../types/errors.js';
import type { Output } from './output.js';
import { resolveTarget, TARGET_OPTIONS, type TargetArgs } from './target.js';
import { durationOption } from './duration-option.js';

interface CleanupArgs extends TargetArgs {
  run?: string;
  all: boolean;
  /** Milliseconds (the option takes a duration). */
  timeout: number;
}

export function cleanupCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'cleanup',
    describe: 'Delete CRDs, objects and namespaces left by runs (found by the asa-bench.io/run label)',
    builder: (y) =>
      y
        .options(TARGET_OPTIONS)
        .option('run', { type: 'string', describe: 'the run id to clean up (printed by `run`, in run.json)' })
        .option('all', { type: 'boolean', default: false, describe: 'clean up every asa-bench run' })
        .option('timeout', durationOption('timeout', { default: '3m', bareUnit: 's', min: 1, describe: 'how long to wait for deletions to finish before reporting what remains' }))
        .epilogue('Exits 4 when labelled objects remain after --timeout (e.g. held by a finalizer); run it again later.'),
    handler: async (argv) => {
      const args = argv as unknown as CleanupArgs;
      if (!args.run && !args.all) throw new UsageError('name what to clean up', 'pass --run ID or --all');
      if (args.run && !RUN_ID.test(args.run)) throw new UsageError(`--run ${args.run}: expected a run id such as rk3x9q2mz (8 characters)`);
      const target = await resolveTarget(args, out, { writes: true });
      try {
        // With kube-controller-manager (controllers=kcm) its namespace controller removes deleted namespaces.
        const finalizeNamespaces = target.info.local && target.server?.controllers !== 'kcm';
        const result = await cleanup(target.client, { runId: args.run, finalizeNamespaces, timeoutMs: args.timeout, progress: (m) => out.progress(m) });
        out.data(`deleted ${result.crds} CRDs and ${result.namespaces} namespaces; ${result.leftover} labelled objects remain`);
        // Leftovers are a cleanup that did not finish: exit 4, as a run that ended partial.
        setExit(result.leftover === 0 ? ExitCode.ok : ExitCode.runFailed);
      } finally {
        await target.release();
      }
    },
  };
}
