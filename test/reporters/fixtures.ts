/**
 * A synthetic run for the reporter tests: 3 steps × 3 phases, with numbers
 * chosen to be exact at the precision the tables print.
 */
import type { OpSummary, PhaseResult, RunInfo } from '../../src/types/results.js';
import type { ReportInput, ServerSample } from '../../src/reporters/view.js';

export type FixtureSweep = 'crds' | 'concurrency' | 'rate';

export const LEVELS: Record<FixtureSweep, readonly number[]> = {
  crds: [10, 100, 1000],
  concurrency: [1, 4, 16],
  rate: [50, 100, 200],
};

export const PHASES = [
  { name: 'install', kind: 'create', primary: 'create.crds', extra: 'crd.established' },
  { name: 'list', kind: 'list', primary: 'list.cache', extra: undefined },
  { name: 'get', kind: 'get', primary: 'get.quorum', extra: undefined },
] as const;

/** p99 (ms) of each phase's primary op: P99[step][phase]. */
export const P99: readonly (readonly number[])[] = [
  [12.5, 3.25, 1.5],
  [25.5, 6.75, 2.25],
  [1500, 13.5, 4.5],
];

/** Successful throughput of each phase's primary op: THROUGHPUT[step][phase]. */
export const THROUGHPUT: readonly (readonly number[])[] = [
  [20, 48, 50],
  [40, 95, 99],
  [80, 150, 190],
];

/** The one op with errors: step 2 ▸ list ▸ list.cache. */
export const ERRORS = { 'http-429': 3, timeout: 1 };

/** Scheduling lag of every open-model phase, ms. */
export const SCHEDULE_LAG_MS = { p50: 0.05, p90: 0.1, p99: 0.25, p999: 0.5, max: 1, mean: 0.07 };

/** The one phase where the harness was saturated. */
export const SATURATED = { step: 2, phase: 'get' };

/** The first message of each error class on step 2 ▸ list ▸ list.cache. */
export const ERROR_EXAMPLES = { 'http-429': 'Too many requests, please try again later.', timeout: 'request timed out after 30s' };

export const HOSTILE_NAME = '<script>alert("x")</script> & co';

export function makeOp(op: string, p99: number, throughput: number, count: number, errors: Record<string, number> = {}): OpSummary {
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    op,
    count,
    ok: count - failed,
    errors,
    throughput,
    bytes: count * 1024,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, p999: p99, max: p99 + 1, mean: p99 / 3 },
    histogram: 'HISTFAAAAA==',
  };
}

export interface FixtureOptions {
  by?: FixtureSweep;
  scenarioName?: string;
  analysis?: boolean;
  server?: boolean;
  /** Extra error class on step 0 ▸ get ▸ get.quorum, e.g. to test escaping. */
  extraErrorClass?: string;
}

export function makeReport(opts: FixtureOptions = {}): ReportInput {
  const by = opts.by ?? 'crds';
  const levels = LEVELS[by];
  const name = opts.scenarioName ?? 'synthetic';
  const start = Date.parse('2026-01-02T03:04:05.000Z');
  const phases: PhaseResult[] = [];
  let clock = start + 1000;
  levels.forEach((level, step) => {
    PHASES.forEach((ph, i) => {
      const followsStep = by !== 'crds' && ph.name !== 'install';
      const load: PhaseResult['load'] = !followsStep
        ? { model: 'closed', concurrency: 4 }
        : by === 'rate'
          ? { model: 'open', ratePerSecond: level }
          : { model: 'closed', concurrency: level };
      let errors: Record<string, number> = {};
      if (step === 2 && ph.name === 'list') errors = { ...ERRORS };
      if (step === 0 && ph.name === 'get' && opts.extraErrorClass) errors = { [opts.extraErrorClass]: 2 };
      const count = 100;
      const failed = Object.values(errors).reduce((a, b) => a + b, 0);
      const ok = count - failed;
      // Attempts per second such that attempts × ok / count = the table's successful throughput.
      const throughput = (THROUGHPUT[step]![i]! * count) / ok;
      const ops = [makeOp(ph.primary, P99[step]![i]!, throughput, count, errors)];
      if (step === 2 && ph.name === 'list') ops[0]!.errorExamples = { ...ERROR_EXAMPLES };
      if (ph.extra) ops.push(makeOp(ph.extra, P99[step]![i]! / 2, throughput, count));
      const durationMs = 2000;
      phases.push({
        step,
        level,
        crds: by === 'crds' ? level : 8,
        load,
        phase: ph.name,
        kind: ph.kind,
        primary: ph.primary,
        limit: 'iterations',
        startedAt: new Date(clock).toISOString(),
        durationMs,
        ops,
        harness: {
          cpuCores: SATURATED.step === step && SATURATED.phase === ph.name ? 0.98 : 0.25,
          eventLoopDelayP99Ms: SATURATED.step === step && SATURATED.phase === ph.name ? 120 : 2.5,
          eventLoopDelayMaxMs: 8,
          rssMaxBytes: 120 * 1024 ** 2,
          saturated: SATURATED.step === step && SATURATED.phase === ph.name,
        },
        // Open-model phases carry their scheduling lag (intended start → sent).
        ...(load.model === 'open' ? { schedule: { started: count, lagMs: { ...SCHEDULE_LAG_MS }, histogram: '' } } : {}),
      });
      clock += durationMs + 100;
    });
  });
  const at = `[${levels.join(', ')}]`;
  const run: RunInfo = {
    formatVersion: 1,
    runId: 'fx123456',
    tool: { name: 'asa-bench', version: '0.1.0', node: 'v24.0.0' },
    scenario: {
      name,
      file: 'scenarios/synthetic.yaml',
      sha256: '0'.repeat(64),
      text: `version: 1\nname: synthetic\n# a comment with \`\`\` backticks and by: concurrency\nsteps: { by: ${by}, at: ${at} }\nphases: []\n`,
    },
    plan: { sweep: { by, levels: [...levels] }, slos: [] },
    target: {
      server: 'https://127.0.0.1:6443',
      context: 'asa-bench-local',
      local: true,
      version: { gitVersion: 'v1.37.2' },
    },
    machine: { cores: 2, memoryBytes: 24 * 1024 ** 3, platform: 'linux-x64' },
    flags: {},
    startedAt: new Date(start).toISOString(),
    endedAt: new Date(clock + 400).toISOString(),
    status: 'complete',
    cleanup: { deleted: 1030, leftover: 0 },
  };
  const report: ReportInput = { run, summary: { formatVersion: 1, runId: run.runId, phases } };
  if (opts.analysis) {
    report.analysis = {
      headline: 'List latency grows 4× from 10 to 1000 CRDs.',
      findings: ['p99 of create.crds reaches 1.5 s at 1000 CRDs.', 'Three 429s at the top step <b>bold?</b>'],
    };
  }
  if (opts.server) report.serverSeries = makeServerSeries(levels, by);
  return report;
}

/** One sample per second over the run, CRDs rising with the steps. */
export function makeServerSeries(levels: readonly number[], by: FixtureSweep): ServerSample[] {
  const samples: ServerSample[] = [];
  for (let t = 0; t <= 20; t++) {
    const step = Math.min(levels.length - 1, Math.floor(t / 7));
    const crds = by === 'crds' ? levels[step]! : 8;
    samples.push({
      t,
      rssBytes: (300 + crds * 0.8 + t) * 1024 ** 2,
      cpuCores: 0.2 + (t % 5) / 10,
      crds,
      requests429: t < 15 ? 0 : (t - 14) * 2,
    });
  }
  return samples;
}
