import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { K6_SCRIPT_SUFFIX, renderK6Script, renderTestRun } from '../export/k6.js';
import { buildK6Export } from '../export/k6-plan.js';
import { RUN_ID } from '../generators/run-id.js';
import { loadScenarioFile } from '../scenarios/parse.js';
import { compilePlan } from '../scenarios/plan.js';
import { UsageError } from '../types/errors.js';
import type { Output } from './output.js';

/**
 * `asa-bench export k6 <scenario>`: writes <out>/<scenario>.k6.js (a k6 script)
 * and <out>/testrun.yaml (a ConfigMap with the script and a k6-operator TestRun).
 * Paths and warnings go to stderr; nothing touches a server.
 */
export function exportCommand(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'export <format> <scenario>',
    describe: 'Export a scenario as a k6 script and a k6-operator TestRun (request phases only)',
    builder: (y) =>
      y
        .positional('format', { choices: ['k6'] as const, demandOption: true })
        .positional('scenario', { type: 'string', demandOption: true })
        .option('out', { type: 'string', default: '.', describe: 'folder for <scenario>.k6.js and testrun.yaml' })
        .option('parallelism', { type: 'number', default: 1, describe: 'k6-operator runner pods (TestRun spec.parallelism)' })
        .option('run-id', { type: 'string', describe: 'default run id baked into the script (ASA_RUN_ID overrides it)' })
        .option('latency-scale', { type: 'number', default: 1, describe: 'widen (>1) or narrow the estimated phase time budgets' })
        .option('namespace', { type: 'string', describe: 'namespace for the ConfigMap and TestRun' })
        .option('allow-huge', { type: 'boolean', default: false, describe: 'lift the safety ceilings on counts and rates' })
        .example('$0 export k6 scenarios/smoke.yaml --out k6/', '')
        .example('K8S_SERVER=https://127.0.0.1:6443 K8S_TOKEN=... k6 run k6/smoke.k6.js', ''),
    handler: async (argv) => {
      const parallelism = argv.parallelism as number;
      if (!Number.isInteger(parallelism) || parallelism < 1) throw new UsageError(`--parallelism ${parallelism}: expected a whole number of at least 1`);
      const scale = argv['latency-scale'] as number;
      if (!Number.isFinite(scale) || scale <= 0) throw new UsageError(`--latency-scale ${scale}: expected a positive number`);
      const runId = argv['run-id'] as string | undefined;
      if (runId !== undefined && !RUN_ID.test(runId)) throw new UsageError(`--run-id ${runId}: expected 8 lowercase letters or digits, starting with a letter`);
      const loaded = await loadScenarioFile(argv.scenario as string, { allowHuge: argv['allow-huge'] as boolean });
      const plan = compilePlan(loaded.doc);
      const options = { latencyScale: scale, ...(runId !== undefined ? { runId } : {}) };
      let script: string;
      try {
        script = renderK6Script(plan, options);
      } catch (err) {
        throw new UsageError(`${loaded.file}: ${(err as Error).message}`);
      }
      const built = buildK6Export(plan, options);
      const scriptName = `${plan.scenario.name}${K6_SCRIPT_SUFFIX}`;
      const namespace = argv.namespace as string | undefined;
      const testRun = renderTestRun(scriptName, parallelism, script, namespace !== undefined ? { namespace } : {});
      const dir = argv.out as string;
      await mkdir(dir, { recursive: true });
      const scriptPath = path.join(dir, scriptName);
      const testRunPath = path.join(dir, 'testrun.yaml');
      await writeFile(scriptPath, script);
      await writeFile(testRunPath, testRun.yaml);
      out.error(`wrote ${scriptPath} (${Object.keys(built.scenarios).length} k6 scenarios, about ${built.totalSeconds}s)`);
      out.error(`wrote ${testRunPath} (ConfigMap + TestRun, parallelism ${parallelism})`);
      for (const note of built.notes) out.error(`note: ${note}`);
      for (const warning of testRun.warnings) out.error(`warning: ${warning}`);
    },
  };
}
