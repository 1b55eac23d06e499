/**
 * A plan as k6 sees it: each (step, phase) becomes one k6 scenario, run one
 * after another through `startTime` offsets estimated here (k6 has no "after
 * the previous scenario ended"), with the work of each iteration (K6Work) and
 * the scenario's SLOs as thresholds. Watch phases are left out, with a note.
 *
 * Pure: same plan and options, same result.
 */
import { weightedWheel } from '../scenarios/mix.js';
import { loadAt, sloFacts, type LoadModel, type Plan, type PlannedPhase, type PlannedStep } from '../scenarios/plan.js';
import type { MixEntryDoc, PhaseDoc, ScenarioDoc } from '../scenarios/schema.js';
import type { SloFact } from '../types/results.js';
import type { K6PhaseWork, K6Scenario, K6Work } from './k6-script/work.js';

export interface K6ExportOptions {
  /** Run id baked in as the default (ASA_RUN_ID overrides it at run time). */
  runId?: string;
  /** Multiplies the per-iteration latency guesses behind the phase time budgets. */
  latencyScale?: number;
  /** Shortest time budget of a phase with a fixed number of iterations, in seconds. */
  minPhaseSeconds?: number;
  /** k6 `gracefulStop` of every scenario, in seconds; also the gap between phases. */
  gracefulStopSeconds?: number;
}

export interface K6Export {
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, string[]>;
  phases: Record<string, K6PhaseWork>;
  /** Phases or SLOs left out, with why. */
  notes: string[];
  /** Estimated end of the last scenario, in seconds (without setup and teardown). */
  totalSeconds: number;
}

/** Extra objects of each timed create phase are numbered from its own block, so names never collide. */
export const EXTRA_OBJECT_BLOCK = 1_000_000;

/** The k6 scenarios, thresholds and per-phase work of a plan. */
export function buildK6Export(plan: Plan, options: K6ExportOptions = {}): K6Export {
  const builder = new K6ScenarioBuilder(plan, options);
  for (const step of plan.steps) for (const phase of plan.phases) builder.addPhase(phase, step);
  const thresholds = thresholdsOf(sloFacts(plan.scenario.slo ?? {}), builder.scenariosOfPhase, plan.steps.length > 1, builder.notes);
  return { scenarios: builder.scenarios, thresholds, phases: builder.phases, notes: builder.notes, totalSeconds: Math.ceil(builder.clockMs / 1000) };
}

/** What the engine has created when a phase runs: the work of later phases depends on it. */
interface ScenarioState {
  installed: number;
  withObjects: number;
  extraBlocks: number;
}

/** Walks a plan's phases in order, adding one k6 scenario per (step, phase) and moving the clock. */
class K6ScenarioBuilder {
  readonly scenarios: Record<string, K6Scenario> = {};
  readonly phases: Record<string, K6PhaseWork> = {};
  readonly notes: string[] = [];
  readonly scenariosOfPhase = new Map<string, { name: string; step: number }[]>();
  clockMs = 0;
  private readonly state: ScenarioState = { installed: 0, withObjects: 0, extraBlocks: 0 };
  private readonly scale: number;
  private readonly minPhaseMs: number;
  private readonly graceMs: number;
  private readonly multiStep: boolean;

  constructor(
    private readonly plan: Plan,
    options: K6ExportOptions,
  ) {
    this.scale = options.latencyScale ?? 1;
    this.minPhaseMs = (options.minPhaseSeconds ?? 10) * 1000;
    this.graceMs = (options.gracefulStopSeconds ?? 5) * 1000;
    this.multiStep = plan.steps.length > 1;
  }

  /** A phase at a step, with its companions (they start with it and share its budget). */
  addPhase(phase: PlannedPhase, step: PlannedStep): void {
    let budgetMs: number;
    if (phase.doc.op === 'watch') {
      this.skipWatch(phase, step);
      budgetMs = phase.durationMs ?? 0;
    } else {
      budgetMs = this.addScenario(phase, step, this.clockMs);
    }
    for (const companion of phase.companions) {
      if (companion.doc.op === 'watch') this.skipWatch(companion, step);
      else this.addScenario(companion, step, this.clockMs, budgetMs);
    }
    if (budgetMs > 0) this.clockMs += budgetMs + this.graceMs;
  }

  private skipWatch(phase: PlannedPhase, step: PlannedStep): void {
    this.notes.push(`${phase.name}${this.multiStep ? ` (step ${step.index})` : ''}: watch phases are skipped (k6 cannot measure per-event watch latency)`);
  }

  /**
   * One k6 scenario for a phase at a step, starting at `startMs`. `windowMs` is
   * the host's budget for a companion without limits of its own. Returns its budget.
   */
  private addScenario(phase: PlannedPhase, step: PlannedStep, startMs: number, windowMs?: number): number {
    const { entries, wheel, iterations } = this.workOfPhase(phase, step, windowMs);
    const name = this.multiStep ? `${phase.name}-step${step.index}` : phase.name;
    if (iterations === 0) {
      this.notes.push(`${name}: nothing to do at this point of the scenario (0 iterations); no k6 scenario`);
      return 0;
    }
    const perIterationMs = Math.max(...entries.map((w) => iterationMs(w, this.plan.scenario))) * this.scale;
    const common = { exec: 'phase', startTime: `${Math.ceil(startMs / 1000)}s`, gracefulStop: seconds(this.graceMs), tags: { step: String(step.index) } };
    const { scenario, budgetMs } = this.executor(loadAt(phase, step), phase, iterations, perIterationMs, common, windowMs);
    this.scenarios[name] = scenario;
    this.phases[name] = { phase: phase.name, entries, wheel };
    const list = this.scenariosOfPhase.get(phase.name) ?? [];
    list.push({ name, step: step.index });
    this.scenariosOfPhase.set(phase.name, list);
    return budgetMs;
  }

  /** The work of each iteration (one entry, or a mix's entries and wheel), and the iterations when they are fixed. */
  private workOfPhase(phase: PlannedPhase, step: PlannedStep, windowMs: number | undefined): { entries: K6Work[]; wheel: number[]; iterations: number | undefined } {
    const doc = phase.doc;
    const timed = phase.repeat !== undefined || phase.durationMs !== undefined;
    let entries: K6Work[];
    let wheel: number[];
    let total: number | undefined;
    if (doc.op === 'mix') {
      entries = doc.mix.map((e) => this.workOf(e, step, true).work);
      wheel = weightedWheel(doc.mix.map((e) => e.weight));
    } else {
      const w = this.workOf(doc, step, timed);
      entries = [w.work];
      wheel = [0];
      // A fixed total (create, delete) applies unless the phase sets repeat or duration.
      total = timed ? undefined : w.total;
    }
    const iterations = phase.repeat ?? total ?? (phase.durationMs === undefined && windowMs === undefined ? 1 : undefined);
    return { entries, wheel, iterations };
  }

  /** The k6 executor for a load model, and the time budget it gets. */
  private executor(
    load: LoadModel,
    phase: PlannedPhase,
    iterations: number | undefined,
    perIterationMs: number,
    common: Record<string, unknown> & { exec: string; startTime: string },
    windowMs: number | undefined,
  ): { scenario: K6Scenario; budgetMs: number } {
    if (load.model === 'closed') {
      if (iterations !== undefined) {
        const vus = Math.max(1, Math.min(load.concurrency, iterations));
        const budgetMs = windowMs ?? Math.max(this.minPhaseMs, Math.ceil(iterations / vus) * perIterationMs);
        return { scenario: { executor: 'shared-iterations', ...common, vus, iterations, maxDuration: seconds(budgetMs) }, budgetMs };
      }
      const budgetMs = phase.durationMs ?? windowMs!;
      return { scenario: { executor: 'constant-vus', ...common, vus: load.concurrency, duration: seconds(budgetMs) }, budgetMs };
    }
    const peak = Math.max(load.ratePerSecond, load.rampToPerSecond ?? 0);
    const vus = { preAllocatedVUs: Math.max(1, Math.min(load.maxInFlight, Math.ceil(peak * 0.25))), maxVUs: load.maxInFlight };
    // With a count instead of a duration, the count is sent at the rate: duration = count / rate.
    const budgetMs = phase.durationMs ?? (iterations !== undefined ? (iterations / load.ratePerSecond) * 1000 : windowMs!);
    if (load.rampToPerSecond === undefined) {
      return { scenario: { executor: 'constant-arrival-rate', ...common, ...rateOf(load.ratePerSecond), duration: seconds(budgetMs), ...vus }, budgetMs };
    }
    const perMinute = !Number.isInteger(load.ratePerSecond) || !Number.isInteger(load.rampToPerSecond);
    const unit = perMinute ? 60 : 1;
    const scenario: K6Scenario = {
      executor: 'ramping-arrival-rate',
      ...common,
      startRate: Math.round(load.ratePerSecond * unit),
      timeUnit: perMinute ? '1m' : '1s',
      stages: [{ target: Math.round(load.rampToPerSecond * unit), duration: seconds(budgetMs) }],
      ...vus,
    };
    return { scenario, budgetMs };
  }

  /** Work of a phase (or mix entry) at the current state; updates the state as the engine's `after` does. */
  private workOf(doc: PhaseDoc | MixEntryDoc, step: PlannedStep, timed: boolean): { work: K6Work; total?: number } {
    const state = this.state;
    const perCrd = this.plan.scenario.generate.objects?.perCRD ?? 0;
    const base = { installed: state.installed, withObjects: state.withObjects, from: 0 };
    switch (doc.op) {
      case 'create':
        return this.createWork(doc, step, timed, base, perCrd);
      case 'patch':
        return { work: { kind: 'patch', key: 'patch.objects', ...base } };
      case 'get':
        return { work: { kind: 'get', key: `get.${doc.consistency}`, ...base, consistency: doc.consistency } };
      case 'list': {
        const work: K6Work = { kind: 'list', key: `list.${doc.consistency}`, ...base, consistency: doc.consistency, scope: doc.scope, labelSelector: doc.labelSelector };
        if (doc.pageSize !== undefined) work.pageSize = doc.pageSize;
        return { work };
      }
      case 'discovery':
        return { work: doc.mode === 'aggregated' ? { kind: 'discovery-aggregated', key: 'discovery.aggregated', ...base } : { kind: 'discovery-legacy', key: 'discovery.legacy.request', ...base } };
      case 'openapi':
        return { work: { kind: 'openapi', key: `openapi.${doc.version}`, ...base, version: doc.version } };
      case 'delete': {
        if (doc.of === 'crds') {
          const total = state.installed;
          state.installed = 0;
          state.withObjects = 0;
          return { work: { kind: 'delete-crds', key: 'delete.crds', ...base }, total };
        }
        const total = state.withObjects * perCrd;
        state.withObjects = 0;
        return { work: { kind: 'delete-objects', key: 'delete.objects', ...base }, total };
      }
      default:
        throw new Error(`op ${doc.op}: not a request phase k6 can express`);
    }
  }

  private createWork(
    doc: Extract<PhaseDoc | MixEntryDoc, { op: 'create' }>,
    step: PlannedStep,
    timed: boolean,
    base: { installed: number; withObjects: number; from: number },
    perCrd: number,
  ): { work: K6Work; total?: number } {
    const state = this.state;
    if (doc.of === 'crds') {
      const from = state.installed;
      const total = Math.max(0, step.crds - from);
      state.installed = Math.max(state.installed, step.crds);
      const work: K6Work = { kind: 'create-crds', key: 'create.crds', ...base, from };
      if ('waitFor' in doc && doc.waitFor !== undefined) work.waitFor = doc.waitFor;
      return { work, total };
    }
    if (!timed) {
      const from = state.withObjects;
      const total = (state.installed - from) * perCrd;
      state.withObjects = state.installed;
      return { work: { kind: 'create-objects', key: 'create.objects', ...base, from }, total };
    }
    return { work: { kind: 'create-extra', key: 'create.objects', ...base, from: state.extraBlocks++ * EXTRA_OBJECT_BLOCK } };
  }
}

/** Rough time of one iteration, for budgets only. */
function iterationMs(work: K6Work, scenario: ScenarioDoc): number {
  const gen = scenario.generate;
  const perCrd = gen.objects?.perCRD ?? 0;
  const groupVersions = (gen.crds?.groups ?? 1) * (gen.crds?.versions ?? 1) + 30;
  switch (work.kind) {
    case 'create-crds':
      return 200 + (work.waitFor ? 1500 : 0);
    case 'list': {
      // One CRD's objects, across all namespaces or in one.
      const inList = work.scope === 'namespace' ? perCrd / (gen.objects?.namespaces ?? 1) : perCrd;
      const bytes = inList * ((gen.objects?.sizeBytes ?? 0) + 400);
      const pages = work.pageSize ? Math.ceil(inList / work.pageSize) : 1;
      return 50 * pages + bytes / 20_000;
    }
    case 'discovery-aggregated':
      return 100 + work.installed * 0.5;
    case 'discovery-legacy':
      return 100 + Math.ceil(groupVersions / 10) * 50;
    case 'openapi':
      return work.version === 'v2' ? 500 + work.installed * 5 : work.version === 'v3' ? 50 : groupVersions * 50;
    default:
      return 50;
  }
}

/** The scenario's SLOs as thresholds on http_req_duration, per phase (and per step in a sweep, as the engine checks them). */
function thresholdsOf(
  slos: readonly SloFact[],
  scenariosOfPhase: ReadonlyMap<string, { name: string; step: number }[]>,
  multiStep: boolean,
  notes: string[],
): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {};
  const STAT = { p50: 'p(50)', p90: 'p(90)', p99: 'p(99)', p999: 'p(99.9)', max: 'max' } as const;
  for (const slo of slos) {
    const ran = scenariosOfPhase.get(slo.phase);
    if (!ran) {
      notes.push(`slo ${slo.key}: no k6 scenario measures phase "${slo.phase}"; no threshold`);
      continue;
    }
    const expression = `${STAT[slo.stat]}<${slo.limitMs}`;
    const filters = multiStep ? ran.map((r) => `phase:${slo.phase},step:${r.step}`) : [`phase:${slo.phase}`];
    for (const filter of filters) (thresholds[`http_req_duration{${filter}}`] ??= []).push(expression);
  }
  return thresholds;
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}

function rateOf(perSecond: number): { rate: number; timeUnit: string } {
  return Number.isInteger(perSecond) ? { rate: perSecond, timeUnit: '1s' } : { rate: Math.max(1, Math.round(perSecond * 60)), timeUnit: '1m' };
}
