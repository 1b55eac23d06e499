import type { CommandModule } from 'yargs';
import { renderColumns, formatBytes } from '../reporters/table.js';
import { loadScenarioFile } from '../scenarios/parse.js';
import { compilePlan, estimatePlan, type Plan, type PlanEstimate, type PhaseEstimate } from '../scenarios/plan.js';
import { AsaError, ExitCode, InputError } from '../types/errors.js';
import type { Output } from './output.js';
import { describeError } from './errors.js';
import os from 'node:os';
import path from 'node:path';
import { asaHome } from '../controlplane/paths.js';
import { guardHeadroomBytes } from '../engine/stop.js';
import { readMemoryFigures, type MemoryFigure } from '../results/memory-figures.js';

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
          const { message, hint } = describeError(err);
          out.error(message);
          if (!(err instanceof InputError) && hint) out.error(`hint: ${hint}`);
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
      const figures = await readMemoryFigures(memoryFiguresFile());
      for (const line of memoryProjection(plan, figures[loaded.doc.name], os.totalmem())) out.data(line);
    },
  };
}

/** Where `run` records, per scenario, the last kube-apiserver memory per CRD measured on the local control plane. */
export function memoryFiguresFile(): string {
  return path.join(asaHome(), 'memory-per-crd.json');
}

/**
 * On the local control plane: kube-apiserver memory projected at each step
 * from the last per-CRD figure measured for this scenario, and a warning when
 * this machine cannot hold the top step (the memory guard would stop there).
 */
export function memoryProjection(plan: Plan, figure: MemoryFigure | undefined, machineBytes: number): string[] {
  const crdSteps = plan.steps.filter((st) => st.by === 'crds' && st.crds > 0);
  if (crdSteps.length === 0) return [];
  if (!figure) return ['', `projected kube-apiserver memory (local control plane): no per-CRD figure measured for ${plan.scenario.name} yet; a run on the local control plane records one`];
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const projected = (crds: number) => figure.baseBytes + figure.perCrdBytes * crds;
  const limit = machineBytes - guardHeadroomBytes(machineBytes);
  const lines = [
    '',
    `projected kube-apiserver memory (local control plane; ${(figure.perCrdBytes / 2 ** 20).toFixed(1)} MiB per CRD measured up to ${figure.crds} CRDs on ${figure.serverVersion}, ${figure.measuredAt.slice(0, 10)}):`,
    `  ${crdSteps.map((st) => `${st.crds} CRDs: ~${gib(projected(st.crds))}`).join('; ')}`,
  ];
  const top = crdSteps[crdSteps.length - 1]!;
  if (projected(top.crds) > limit) {
    const fits = crdSteps.filter((st) => projected(st.crds) <= limit).pop();
    lines.push(
      `warning: this machine (${gib(machineBytes)}) cannot hold the top step (${top.crds} CRDs, ~${gib(projected(top.crds))} projected, ${gib(guardHeadroomBytes(machineBytes))} kept free): ` +
        (fits ? `the memory guard will stop the run after the ${fits.crds}-CRD step, or earlier if other processes use memory` : 'the memory guard will stop the run before its first step fits'),
    );
  }
  return lines;
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
