/**
 * `asa-bench export k6`: a scenario's plan as a k6 script (TypeScript, which k6
 * runs directly) and a k6-operator TestRun to run it distributed in a cluster.
 *
 * The script mirrors what src/engine/ops.ts requests for every request phase
 * k6 can express; each (step, phase) becomes one k6 scenario, run one after
 * another through `startTime` offsets estimated here (k6 has no "after the
 * previous scenario ended"). Watch phases and everything the engine measures
 * outside HTTP request latency are left out, and the script says so.
 *
 * Pure functions: no I/O, same plan and options, same text.
 */
import { stringify } from 'yaml';
import { weightedWheel } from '../scenarios/mix.js';
import { loadAt, type LoadModel, type Plan, type PlannedPhase, type PlannedStep } from '../scenarios/plan.js';
import type { MixEntryDoc, PhaseDoc } from '../scenarios/schema.js';
import { parseDurationMs } from '../types/duration.js';
import type { CrdShape } from '../generators/crds.js';
import { RUN_ID } from '../generators/run-id.js';
import { bundleK6Script } from './k6-bundle.js';
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

export const DEFAULT_K6_RUN_ID = 'rk6xport';

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
const EXTRA_OBJECT_BLOCK = 1_000_000;

/** The k6 scenarios, thresholds and per-phase work of a plan. */
export function buildK6Export(plan: Plan, options: K6ExportOptions = {}): K6Export {
  const scale = options.latencyScale ?? 1;
  const minPhaseMs = (options.minPhaseSeconds ?? 10) * 1000;
  const graceMs = (options.gracefulStopSeconds ?? 5) * 1000;
  const s = plan.scenario;
  const gen = s.generate;
  const perCrd = gen.objects?.perCRD ?? 0;
  const state = { installed: 0, withObjects: 0, extraBlocks: 0 };
  const scenarios: Record<string, K6Scenario> = {};
  const phases: Record<string, K6PhaseWork> = {};
  const notes: string[] = [];
  const scenariosOfPhase = new Map<string, { name: string; step: number }[]>();
  const multiStep = plan.steps.length > 1;
  let clockMs = 0;

  /** Work of a phase (or mix entry) at the current state; updates the state as the engine's `after` does. */
  const workOf = (doc: PhaseDoc | MixEntryDoc, step: PlannedStep, timed: boolean): { work: K6Work; total?: number } => {
    const base = { installed: state.installed, withObjects: state.withObjects, from: 0 };
    switch (doc.op) {
      case 'create': {
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
  };

  /** Rough time of one iteration, for budgets only. */
  const iterationMs = (work: K6Work): number => {
    const crds = gen.crds;
    const groupVersions = (crds?.groups ?? 1) * (crds?.versions ?? 1) + 30;
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
  };

  const seconds = (ms: number) => `${Math.max(1, Math.ceil(ms / 1000))}s`;
  const rateOf = (perSecond: number) =>
    Number.isInteger(perSecond) ? { rate: perSecond, timeUnit: '1s' } : { rate: Math.max(1, Math.round(perSecond * 60)), timeUnit: '1m' };

  /**
   * One k6 scenario for a phase at a step, starting at `startMs`. `windowMs` is
   * the host's budget for a companion without limits of its own. Returns its budget.
   */
  const addScenario = (phase: PlannedPhase, step: PlannedStep, startMs: number, windowMs?: number): number => {
    const doc = phase.doc;
    if (doc.op === 'watch') return 0;
    const load: LoadModel = loadAt(phase, step);
    const timed = phase.repeat !== undefined || phase.durationMs !== undefined;
    let entries: K6Work[];
    let wheel: number[];
    let total: number | undefined;
    if (doc.op === 'mix') {
      entries = doc.mix.map((e) => workOf(e, step, true).work);
      wheel = weightedWheel(doc.mix.map((e) => e.weight));
    } else {
      const w = workOf(doc, step, timed);
      entries = [w.work];
      wheel = [0];
      // A fixed total (create, delete) applies unless the phase sets repeat or duration.
      total = timed ? undefined : w.total;
    }
    const iterations = phase.repeat ?? total ?? (phase.durationMs === undefined && windowMs === undefined ? 1 : undefined);
    const name = multiStep ? `${phase.name}-step${step.index}` : phase.name;
    if (iterations === 0) {
      notes.push(`${name}: nothing to do at this point of the scenario (0 iterations); no k6 scenario`);
      return 0;
    }
    const perIteration = Math.max(...entries.map(iterationMs)) * scale;
    const common = { exec: 'phase', startTime: `${Math.ceil(startMs / 1000)}s`, gracefulStop: seconds(graceMs), tags: { step: String(step.index) } };
    let scenario: K6Scenario;
    let budgetMs: number;
    if (load.model === 'closed') {
      if (iterations !== undefined) {
        const vus = Math.max(1, Math.min(load.concurrency, iterations));
        budgetMs = windowMs ?? Math.max(minPhaseMs, Math.ceil(iterations / vus) * perIteration);
        scenario = { executor: 'shared-iterations', ...common, vus, iterations, maxDuration: seconds(budgetMs) };
      } else {
        budgetMs = phase.durationMs ?? windowMs!;
        scenario = { executor: 'constant-vus', ...common, vus: load.concurrency, duration: seconds(budgetMs) };
      }
    } else {
      const peak = Math.max(load.ratePerSecond, load.rampToPerSecond ?? 0);
      const vus = { preAllocatedVUs: Math.max(1, Math.min(load.maxInFlight, Math.ceil(peak * 0.25))), maxVUs: load.maxInFlight };
      // With a count instead of a duration, the count is sent at the rate: duration = count / rate.
      budgetMs = phase.durationMs ?? (iterations !== undefined ? (iterations / load.ratePerSecond) * 1000 : windowMs!);
      if (load.rampToPerSecond === undefined) {
        scenario = { executor: 'constant-arrival-rate', ...common, ...rateOf(load.ratePerSecond), duration: seconds(budgetMs), ...vus };
      } else {
        const perMinute = !Number.isInteger(load.ratePerSecond) || !Number.isInteger(load.rampToPerSecond);
        const unit = perMinute ? 60 : 1;
        scenario = {
          executor: 'ramping-arrival-rate',
          ...common,
          startRate: Math.round(load.ratePerSecond * unit),
          timeUnit: perMinute ? '1m' : '1s',
          stages: [{ target: Math.round(load.rampToPerSecond * unit), duration: seconds(budgetMs) }],
          ...vus,
        };
      }
    }
    scenarios[name] = scenario;
    phases[name] = { phase: phase.name, entries, wheel };
    const list = scenariosOfPhase.get(phase.name) ?? [];
    list.push({ name, step: step.index });
    scenariosOfPhase.set(phase.name, list);
    return budgetMs;
  };

  for (const step of plan.steps) {
    for (const phase of plan.phases) {
      let budgetMs: number;
      if (phase.doc.op === 'watch') {
        notes.push(`${phase.name}${multiStep ? ` (step ${step.index})` : ''}: watch phases are skipped (k6 cannot measure per-event watch latency)`);
        budgetMs = phase.durationMs ?? 0;
      } else {
        budgetMs = addScenario(phase, step, clockMs);
      }
      for (const companion of phase.companions) {
        if (companion.doc.op === 'watch') {
          notes.push(`${companion.name}${multiStep ? ` (step ${step.index})` : ''}: watch phases are skipped (k6 cannot measure per-event watch latency)`);
          continue;
        }
        addScenario(companion, step, clockMs, budgetMs);
      }
      if (budgetMs > 0) clockMs += budgetMs + graceMs;
    }
  }

  const thresholds: Record<string, string[]> = {};
  const STAT = { p50: 'p(50)', p90: 'p(90)', p99: 'p(99)', p999: 'p(99.9)', max: 'max' } as const;
  for (const [key, limit] of Object.entries(s.slo ?? {})) {
    const dot = key.lastIndexOf('.');
    const phaseName = key.slice(0, dot);
    const stat = STAT[key.slice(dot + 1) as keyof typeof STAT];
    const ran = scenariosOfPhase.get(phaseName);
    if (!ran) {
      notes.push(`slo ${key}: no k6 scenario measures phase "${phaseName}"; no threshold`);
      continue;
    }
    const expression = `${stat}<${parseDurationMs(limit)}`;
    // The engine checks an SLO at every step: one threshold per step in a sweep.
    const filters = multiStep ? ran.map((r) => `phase:${phaseName},step:${r.step}`) : [`phase:${phaseName}`];
    for (const filter of filters) (thresholds[`http_req_duration{${filter}}`] ??= []).push(expression);
  }
  return { scenarios, thresholds, phases, notes, totalSeconds: Math.ceil(clockMs / 1000) };
}

/** Exported scripts are JavaScript modules (k6 runs them as they are): `<scenario>.k6.js`. */
export const K6_SCRIPT_SUFFIX = '.k6.js';

/** The k6 script for a plan: a header that says what it does and leaves out, then the bundled code (k6-bundle.ts). */
export function renderK6Script(plan: Plan, options: K6ExportOptions = {}): string {
  const built = buildK6Export(plan, options);
  if (Object.keys(built.scenarios).length === 0) throw new Error(`scenario ${plan.scenario.name}: no phase k6 can run (watch phases are not exported)`);
  const s = plan.scenario;
  const runId = options.runId ?? DEFAULT_K6_RUN_ID;
  if (!RUN_ID.test(runId)) throw new Error(`run id ${runId}: expected 8 lowercase letters or digits, starting with a letter`);
  const code = bundleK6Script({
    defaultRunId: runId,
    cleanup: s.cleanup,
    generate: { seed: s.seed, crds: s.generate.crds ?? NO_CRDS, objects: s.generate.objects ?? null },
    phases: built.phases,
    scenarios: built.scenarios,
    thresholds: built.thresholds,
  });
  return `${scriptHeader(plan, runId, built)}\n${code}`;
}

/** The generator input of a scenario without `generate.crds` (its phases touch no CRDs). */
const NO_CRDS: CrdShape = { count: 0, groups: 1, versions: 1, scope: 'Namespaced', schema: { properties: 0, depth: 0, arrays: false, enums: false, validationRules: 0 } };

function scriptHeader(plan: Plan, runId: string, built: K6Export): string {
  const s = plan.scenario;
  const comment = (text: string) =>
    text
      .split('\n')
      .map((l) => `// ${l}`.trimEnd())
      .join('\n');
  return comment(
    [
      `k6 script exported by asa-bench from scenario "${s.name}" (seed ${s.seed}).`,
      ...(s.description ? [s.description] : []),
      '',
      'Run:',
      `  K8S_SERVER=https://127.0.0.1:6443 K8S_TOKEN=<bearer token> k6 run ${s.name}${K6_SCRIPT_SUFFIX}`,
      'Environment:',
      '  K8S_SERVER       API server URL (required); a path prefix is kept',
      '  K8S_TOKEN        bearer token, or K8S_TOKEN_FILE: a file holding one',
      '  K8S_CLIENT_CERT  client certificate PEM file, with K8S_CLIENT_KEY (read with open())',
      "  K8S_INSECURE     '1' skips TLS verification; otherwise the server certificate must be",
      '                   trusted by the system (SSL_CERT_FILE=<ca.crt> works on Linux)',
      `  ASA_RUN_ID       run id in every name and label (default ${runId}); set a fresh one per run`,
      '',
      'Every request is tagged name=<operation> (as asa-bench keys its histograms, e.g. list.cache)',
      'and phase=<phase>; each k6 scenario is one phase at one step (tag step). The scenario `slo`',
      'becomes thresholds on http_req_duration{phase:...}.',
      '',
      'What k6 cannot measure here (use `asa-bench run` for these):',
      '  - watch phases are skipped: no per-event watch delivery latency;',
      '  - CRD Established / servable / discovery lifecycle latencies: the script waits for them',
      '    after each create (tagged phase=unmeasured) but does not time them;',
      '  - server-side /metrics deltas (apiserver, etcd, process) and harness self-metrics;',
      '  - latency of whole iterations: k6 times single requests, so a discovery iteration',
      '    (2 requests), a paginated list or a legacy fan-out counts each request on its own.',
      'Simplified:',
      '  - phases run one after another through startTime offsets ESTIMATED from guessed request',
      `    latencies (about ${built.totalSeconds}s in all); a phase cut off by its maxDuration leaves`,
      '    work undone, one that ends early leaves an idle gap. Re-export with --latency-scale to widen;',
      '  - later phases assume every earlier create succeeded (no gaps are tracked between phases);',
      `  - timed creates number their objects from blocks of ${EXTRA_OBJECT_BLOCK} so names never collide;`,
      '  - open-model phases with repeat run for repeat/rate seconds; maxInFlight is maxVUs;',
      '  - honorRetryAfter and onError are not applied; failed requests show in http_req_failed.',
      ...built.notes.map((n) => `Not exported: ${n}`),
      '',
      'Below: the asa-bench generators and request code, bundled from its sources (src/export/k6-script/main.ts).',
    ].join('\n'),
  );
}

/** A ConfigMap's data is limited to 1 MiB. */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

export interface TestRunOptions {
  /** Name of the ConfigMap and the TestRun (default: from the script name). */
  name?: string;
  namespace?: string;
}

export interface RenderedTestRun {
  documents: Record<string, unknown>[];
  /** Multi-document YAML: the ConfigMap, then the TestRun. */
  yaml: string;
  warnings: string[];
}

/**
 * A k6-operator TestRun (k6.io/v1alpha1) running `scriptName` from a ConfigMap
 * that holds the script, with `parallelism` runner pods. In-cluster the
 * runners talk to the API server as their service account (token file, and the
 * cluster CA through SSL_CERT_FILE).
 */
export function renderTestRun(scriptName: string, parallelism: number, script: string, options: TestRunOptions = {}): RenderedTestRun {
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`parallelism ${parallelism}: expected a whole number of at least 1`);
  const warnings: string[] = [];
  const name = options.name ?? dnsName(`asa-bench-${scriptName.replace(/\.k6\.[jt]s$|\.[jt]s$/, '')}`);
  const metadata = (extra: Record<string, unknown> = {}) => ({ name, ...(options.namespace ? { namespace: options.namespace } : {}), ...extra });
  const bytes = new TextEncoder().encode(script).length;
  if (bytes > CONFIGMAP_LIMIT_BYTES) {
    warnings.push(`${scriptName} is ${bytes} bytes, over the 1 MiB ConfigMap limit: the API server will reject the ConfigMap; use a volume or a smaller scenario`);
  }
  if (parallelism > 1) {
    warnings.push(
      `parallelism ${parallelism}: k6-operator splits every k6 scenario across ${parallelism} runners (execution segments); iteration numbers stay unique across runners, so they address the same objects as one runner would`,
    );
  }
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata({ labels: { 'app.kubernetes.io/created-by': 'asa-bench' } }),
    data: { [scriptName]: script },
  };
  const testRun = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: metadata({ labels: { 'app.kubernetes.io/created-by': 'asa-bench' } }),
    spec: {
      parallelism,
      script: { configMap: { name, file: scriptName } },
      runner: {
        env: [
          { name: 'K8S_SERVER', value: 'https://kubernetes.default.svc' },
          { name: 'K8S_TOKEN_FILE', value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
          { name: 'SSL_CERT_FILE', value: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' },
        ],
      },
    },
  };
  const documents = [configMap, testRun];
  return { documents, yaml: documents.map((d) => `---\n${stringify(d, { lineWidth: 0 })}`).join(''), warnings };
}

function dnsName(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '') || 'asa-bench'
  );
}
