import type { CommandModule } from 'yargs';
import { renderColumns, formatBytes } from '../reporters/table.js';
import { loadScenarioFile } from '../scenarios/load.js';
import { compilePlan, estimatePlan, type Plan, type PlanEstimate, type PhaseEstimate } from '../scenarios/plan.js';
import { AsaError, ExitCode, InputError } from '../types/errors.js';
import type { Output } from './output.js';

export function validateCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'validate <files..>',
    describe: 'Check scenario files; print every problem as file:line:col path: expected X, got Y',
    builder: (y) =>
      y
        .positional('files', { type: 'string', array: true, demandOption: true })
        .option('allow-huge', { type: 'boolean', default: false, describe: 'lift the safety ceilings on counts and rates' }),
    handler: async (argv) => {
      const files = argv.files as string[];
      let failed = false;
      for (const file of files) {
        try {
          await loadScenarioFile(file, { allowHuge: argv['allow-huge'] as boolean });
          out.data(`${file}: ok`);
        } catch (err) {
          if (!(err instanceof AsaError)) throw err;
          failed = true;
          out.error(err.message);
          if (!(err instanceof InputError) && err.hint) out.error(`hint: ${err.hint}`);
        }
      }
      setExit(failed ? ExitCode.usage : ExitCode.ok);
    },
  };
}

export function planCommand(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'plan <scenario>',
    describe: 'Print what a run would do (steps, phases, requests, objects, data volume) without a server',
    builder: (y) =>
      y
        .positional('scenario', { type: 'string', demandOption: true })
        .option('allow-huge', { type: 'boolean', default: false, describe: 'lift the safety ceilings on counts and rates' }),
    handler: async (argv) => {
      const loaded = await loadScenarioFile(argv.scenario as string, { allowHuge: argv['allow-huge'] as boolean });
      const plan = compilePlan(loaded.doc);
      out.data(renderPlan(plan, estimatePlan(plan)));
    },
  };
}

export function renderPlan(plan: Plan, estimate: PlanEstimate): string {
  const s = plan.scenario;
  const header = [
    `scenario ${s.name}${s.description ? `: ${s.description.trim()}` : ''}`,
    `steps (by ${plan.steps[0]?.by ?? 'crds'}): ${plan.steps.map((st) => (st.by === 'crds' ? `${st.level} CRDs` : st.by === 'rate' ? `${st.level}/s` : `${st.level} workers`)).join(' → ')}`,
    '',
  ];
  const table = renderColumns<PhaseEstimate>(estimate.rows, [
    { header: 'step', value: (r) => String(r.step) },
    { header: 'crds', value: (r) => String(r.crds) },
    { header: 'phase', align: 'left', value: (r) => r.phase },
    { header: 'operation', align: 'left', value: (r) => r.op },
    { header: 'load', align: 'left', value: (r) => r.load },
    { header: 'requests', align: 'left', value: (r) => r.requests },
    { header: 'creates', value: (r) => (r.creates ? String(r.creates) : '') },
  ]);
  const footer = [
    '',
    `total: ${estimate.crdsCreated} CRDs and ${estimate.objectsCreated} objects created; ~${formatBytes(estimate.bytesSent)} of manifests sent`,
    s.cleanup ? 'cleanup: everything created is deleted at the end' : 'cleanup: off (objects stay until `asa-bench cleanup`)',
  ];
  return [...header, table, ...footer].join('\n');
}
