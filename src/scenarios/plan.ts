/**
 * From a validated scenario to a frozen Plan: steps ▸ phases, each phase with
 * its load model and its limits resolved, `during` companions attached to the
 * phase they run alongside. The plan is what `plan` prints and `run` executes.
 */
import { crdManifest, type CrdSpecInput } from '../generators/crds.js';
import { objectManifest, objectRef, type ObjectSpecInput } from '../generators/objects.js';
import { crdRef } from '../generators/crds.js';
import { parseDurationMs } from '../types/duration.js';
import type { PlanFacts, SloFact } from '../types/results.js';
import { followsLoadStep, parseRatePerSecond, type MixEntryDoc, type PhaseDoc, type ScenarioDoc } from './schema.js';

export type LoadModel =
  | { model: 'closed'; concurrency: number }
  | {
      model: 'open';
      ratePerSecond: number;
      /** Ramping: the rate grows (or falls) linearly to this over the phase duration. */
      rampToPerSecond?: number;
      maxInFlight: number;
    };

export interface PlannedPhase {
  name: string;
  doc: PhaseDoc;
  load: LoadModel;
  /** Iterations per step, when fixed (repeat, or what the generators define). */
  repeat?: number;
  durationMs?: number;
  /** Phases that run alongside this one (`during: <this>`). */
  companions: PlannedPhase[];
  /** Takes its concurrency or rate from a load sweep (`steps.by: concurrency|rate`). */
  followsStep: boolean;
}

export type SweepVariable = 'crds' | 'concurrency' | 'rate';

export interface PlannedStep {
  index: number;
  by: SweepVariable;
  /** The swept variable at this step. */
  level: number;
  /** CRDs installed when the step's measurements run. */
  crds: number;
}

export interface Plan {
  scenario: ScenarioDoc;
  steps: readonly PlannedStep[];
  /** Top-level phases in order; companions hang off their host. */
  phases: readonly PlannedPhase[];
}

const DEFAULT_MAX_IN_FLIGHT = 1000;

/** What readers of the result need to know of the plan (types/results.ts PlanFacts): the sweep and the SLOs, normalized. */
export function planFacts(plan: Plan): PlanFacts {
  const by = plan.steps[0]?.by ?? 'crds';
  return { sweep: { by, levels: plan.steps.map((s) => s.level) }, slos: sloFacts(plan.scenario.slo ?? {}) };
}

/** `create.p99: 1s` → phase create, stat p99, 1000 ms (the schema has checked the key and the duration). */
export function sloFacts(slo: Readonly<Record<string, string>>): SloFact[] {
  return Object.entries(slo).map(([key, limit]) => {
    const dot = key.lastIndexOf('.');
    return { key, phase: key.slice(0, dot), stat: key.slice(dot + 1) as SloFact['stat'], limit, limitMs: parseDurationMs(limit) };
  });
}

export function compilePlan(scenario: ScenarioDoc): Plan {
  const crdCount = scenario.generate.crds?.count ?? 0;
  const by: SweepVariable = scenario.steps?.by ?? 'crds';
  const levels = scenario.steps?.at ?? [crdCount];
  const steps = levels.map((level, index) => ({ index, by, level, crds: by === 'crds' ? level : crdCount }));
  const planned = new Map<string, PlannedPhase>();
  for (const doc of scenario.phases) planned.set(doc.name, planPhase(doc, by !== 'crds' && followsLoadStep(doc)));
  const top: PlannedPhase[] = [];
  for (const doc of scenario.phases) {
    const phase = planned.get(doc.name)!;
    if (doc.during !== undefined) planned.get(doc.during)!.companions.push(phase);
    else top.push(phase);
  }
  return deepFreeze({ scenario, steps, phases: top });
}

function planPhase(doc: PhaseDoc, followsStep: boolean): PlannedPhase {
  const rate = 'rate' in doc ? doc.rate : undefined;
  const concurrency = 'concurrency' in doc ? doc.concurrency : undefined;
  const maxInFlight = 'maxInFlight' in doc ? doc.maxInFlight : undefined;
  const load: LoadModel =
    rate !== undefined
      ? typeof rate === 'string'
        ? { model: 'open', ratePerSecond: parseRatePerSecond(rate), maxInFlight: maxInFlight ?? DEFAULT_MAX_IN_FLIGHT }
        : { model: 'open', ratePerSecond: parseRatePerSecond(rate.from), rampToPerSecond: parseRatePerSecond(rate.to), maxInFlight: maxInFlight ?? DEFAULT_MAX_IN_FLIGHT }
      : { model: 'closed', concurrency: doc.op === 'watch' ? doc.watchers : (concurrency ?? 1) };
  const repeat = 'repeat' in doc ? doc.repeat : undefined;
  const durationMs = doc.duration !== undefined ? parseDurationMs(doc.duration) : undefined;
  return { name: doc.name, doc, load, repeat, durationMs, companions: [], followsStep };
}

/** The load a phase offers at a step: its own, or the step's level in a load sweep. */
export function loadAt(phase: PlannedPhase, step: PlannedStep): LoadModel {
  if (!phase.followsStep) return phase.load;
  if (step.by === 'rate') return { model: 'open', ratePerSecond: step.level, maxInFlight: DEFAULT_MAX_IN_FLIGHT };
  return { model: 'closed', concurrency: step.level };
}

/** Generator inputs for a run. */
export function generatorInputs(scenario: ScenarioDoc, runId: string): { crds?: CrdSpecInput; objects?: ObjectSpecInput } {
  return {
    crds: scenario.generate.crds ? { seed: scenario.seed, runId, crds: scenario.generate.crds } : undefined,
    objects: scenario.generate.objects ? { seed: scenario.seed, runId, objects: scenario.generate.objects } : undefined,
  };
}

export interface PhaseEstimate {
  step: number;
  level: number;
  crds: number;
  phase: string;
  op: string;
  load: string;
  /** Requests, when the count is fixed; otherwise a description such as `30s at 200/s ≈ 6000`. */
  requests: string;
  creates: number;
}

export interface PlanEstimate {
  rows: PhaseEstimate[];
  crdsCreated: number;
  objectsCreated: number;
  /** Bytes of generated CRD and object manifests sent. */
  bytesSent: number;
}

/**
 * What a run would do, without a server: per step and phase, the requests it
 * sends and the objects it creates, plus a rough data volume.
 */
export function estimatePlan(plan: Plan): PlanEstimate {
  const s = plan.scenario;
  const inputs = generatorInputs(s, 'r0000000');
  const crdBytes = inputs.crds ? Buffer.byteLength(JSON.stringify(crdManifest(inputs.crds, 0))) : 0;
  const objectBytes = inputs.crds && inputs.objects ? Buffer.byteLength(JSON.stringify(objectManifest(inputs.objects, objectRef(inputs.objects, crdRef(inputs.crds, 0), 0)))) : 0;
  const rows: PhaseEstimate[] = [];
  let installed = 0;
  let withObjects = 0;
  let crdsCreated = 0;
  let objectsCreated = 0;
  let bytesSent = 0;
  const perCrd = s.generate.objects?.perCRD ?? 0;
  const visit = (phase: PlannedPhase, step: PlannedStep) => {
    const doc = phase.doc;
    let requests: string;
    let creates = 0;
    const fixed = (n: number) => String(n);
    const timed = () => {
      if (phase.durationMs === undefined) return doc.during !== undefined ? `while ${doc.during} runs` : '1';
      if (load.model === 'open') {
        const mean = load.rampToPerSecond === undefined ? load.ratePerSecond : (load.ratePerSecond + load.rampToPerSecond) / 2;
        return `${phase.durationMs / 1000}s at ${describeRate(load)} ≈ ${Math.round((phase.durationMs / 1000) * mean)}`;
      }
      return `${phase.durationMs / 1000}s with ${load.concurrency} workers`;
    };
    const load = loadAt(phase, step);
    if (doc.op === 'create' && doc.of === 'crds') {
      creates = Math.max(0, step.crds - installed);
      installed = Math.max(installed, step.crds);
      crdsCreated += creates;
      bytesSent += creates * crdBytes;
      requests = fixed(creates);
    } else if (doc.op === 'create' && doc.of === 'objects') {
      if (phase.repeat !== undefined || phase.durationMs !== undefined) {
        creates = phase.repeat ?? 0;
        requests = phase.repeat !== undefined ? fixed(phase.repeat) : timed();
      } else {
        creates = (installed - withObjects) * perCrd;
        withObjects = installed;
        requests = fixed(creates);
      }
      objectsCreated += creates;
      bytesSent += creates * objectBytes;
    } else if (doc.op === 'watch') {
      requests = `${doc.watchers} watches ${doc.during !== undefined ? `during ${doc.during}` : `for ${(phase.durationMs ?? 0) / 1000}s`}`;
    } else if (doc.op === 'delete') {
      requests = doc.of === 'crds' ? fixed(installed) : fixed(objectsCreated);
    } else if (doc.op === 'discovery' && doc.mode === 'legacy-fanout') {
      const iterations = phase.repeat ?? (phase.durationMs === undefined ? '1' : timed());
      requests = `${iterations} × (2 + one per group-version)`;
    } else {
      requests = phase.repeat !== undefined ? fixed(phase.repeat) : timed();
    }
    rows.push({
      step: step.index,
      level: step.level,
      crds: step.crds,
      phase: doc.during !== undefined ? `${phase.name} (during ${doc.during})` : phase.name,
      op: describeOp(doc),
      load: load.model === 'open' ? `${describeRate(load)}, ≤${load.maxInFlight} in flight` : `${load.concurrency} concurrent`,
      requests,
      creates,
    });
  };
  for (const step of plan.steps) {
    for (const phase of plan.phases) {
      visit(phase, step);
      for (const c of phase.companions) visit(c, step);
    }
  }
  return { rows, crdsCreated, objectsCreated, bytesSent };
}

function describeRate(load: Extract<LoadModel, { model: 'open' }>): string {
  return load.rampToPerSecond === undefined ? `${load.ratePerSecond}/s` : `${load.ratePerSecond}→${load.rampToPerSecond}/s`;
}

export function describeOp(doc: PhaseDoc | MixEntryDoc): string {
  switch (doc.op) {
    case 'create':
      return `create ${doc.of}${doc.waitFor ? ` (wait ${doc.waitFor})` : ''}`;
    case 'patch':
    case 'delete':
      return `${doc.op} ${doc.of}`;
    case 'list':
      return `list ${doc.consistency}${doc.pageSize ? ` limit=${doc.pageSize}` : ''}${doc.scope === 'all' ? ' all-namespaces' : ''}${doc.labelSelector ? ' selector' : ''}`;
    case 'get':
      return `get ${doc.consistency}`;
    case 'discovery':
      return `discovery ${doc.mode}`;
    case 'openapi':
      return `openapi ${doc.version}`;
    case 'watch':
      return `watch ×${doc.watchers}`;
    case 'mix':
      return `mix of ${doc.mix.map((e) => `${e.weight}× ${describeOp(e)}`).join(', ')}`;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
