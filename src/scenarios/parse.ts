/**
 * Reading and parsing a scenario file, in stages, reporting every problem at once:
 *   YAML (with positions) → schema → cross-field rules → limits.
 * Each problem carries `file:line:col path` and says what was expected.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { InputError, UsageError, type InputProblem } from '../types/errors.js';
import { parseStopCondition } from './stop.js';
import { Scenario, SOFT_LIMITS, followsLoadStep, peakRatePerSecond, type ScenarioDoc } from './schema.js';

export interface LoadOptions {
  /** Lift the soft limits (absurd counts and rates) in SOFT_LIMITS. */
  allowHuge?: boolean;
}

export interface LoadedScenario {
  file: string;
  text: string;
  doc: ScenarioDoc;
}

export async function loadScenarioFile(file: string, options: LoadOptions = {}): Promise<LoadedScenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${file}: cannot read scenario file (${code ?? String(err)})`,
      code === 'ENOENT' ? 'check the path; shipped scenarios are in scenarios/' : undefined,
    );
  }
  return { file, text, doc: parseScenario(text, file, options) };
}

/** Parses and validates scenario text; throws InputError listing every problem. */
export function parseScenario(text: string, file: string, options: LoadOptions = {}): ScenarioDoc {
  // logLevel 'error': the library's console warnings (e.g. collection keys) stay
  // quiet; every such input is reported below as a problem anyway.
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  // Positions come from the text itself: yaml's LineCounter misses line breaks
  // inside a broken flow collection (`- {{a: b\n- c`) and then reports columns
  // past the end of a line.
  const lineStarts = lineStartsOf(text);
  const at = (offset: number) => linePos(lineStarts, offset);

  const yamlProblems: InputProblem[] = document.errors.map((e) => {
    const pos = at(e.pos[0]);
    return { file, line: pos.line, column: pos.col, path: '', message: `expected valid YAML: ${firstLine(e.message)}` };
  });
  if (yamlProblems.length > 0) throw new InputError(yamlProblems);

  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // e.g. too many alias expansions (a "billion laughs" document).
    throw new InputError([{ file, line: 1, column: 1, path: '', message: `expected valid YAML: ${firstLine(err instanceof Error ? err.message : String(err))}` }]);
  }
  if (data === null || typeof data !== 'object' || Object.getPrototypeOf(data) !== Object.prototype) {
    throw new InputError([
      { file, line: 1, column: 1, path: '', message: `expected a mapping with version, name and phases, got ${describe(data)}` },
    ]);
  }

  const locate = (path: readonly PropertyKey[], key?: string): { line: number; column: number } => {
    const pos = at(offsetOf(document, path, key));
    return { line: pos.line, column: pos.col };
  };

  const parsed = Scenario.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => issueProblems(issue, file, locate));
    throw new InputError(dedupe(problems));
  }

  const ruleProblems = crossFieldProblems(parsed.data, options).map((p) => ({ file, ...locate(p.path), path: dotted(p.path), message: p.message, ...(p.ceiling ? { ceiling: p.ceiling } : {}) }));
  if (ruleProblems.length > 0) throw new InputError(ruleProblems);

  return deepFreeze(parsed.data);
}

interface RuleProblem {
  path: (string | number)[];
  message: string;
  ceiling?: true;
}

/** Rules that span fields, checked before anything touches a server. */
function crossFieldProblems(s: ScenarioDoc, options: LoadOptions): RuleProblem[] {
  const names = new Map<string, number>();
  const problems = s.phases.flatMap((phase, i) => {
    const seen = names.get(phase.name);
    if (seen === undefined) names.set(phase.name, i);
    return phaseProblems(s, phase, i, seen);
  });
  problems.push(...duringProblems(s, names), ...stepProblems(s), ...stopWhenProblems(s, names));
  if (s.generate.crds && s.generate.crds.groups > s.generate.crds.count) {
    problems.push({ path: ['generate', 'crds', 'groups'], message: `expected at most count (${s.generate.crds.count}) groups, got ${s.generate.crds.groups}` });
  }
  if (!options.allowHuge) problems.push(...softLimitProblems(s));
  return problems;
}

/** One phase's own rules; `seen`: the index of an earlier phase of the same name. */
function phaseProblems(s: ScenarioDoc, phase: ScenarioDoc['phases'][number], i: number, seen: number | undefined): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const path = ['phases', i];
  if (seen !== undefined) problems.push({ path: [...path, 'name'], message: `expected a unique phase name, got "${phase.name}" again (first at phases[${seen}])` });

  if ('rate' in phase && phase.rate !== undefined && phase.concurrency !== undefined) {
    problems.push({ path: [...path, 'rate'], message: 'expected either rate (open model, with maxInFlight) or concurrency (closed model), got both' });
  }
  if ('maxInFlight' in phase && phase.maxInFlight !== undefined && phase.rate === undefined) {
    problems.push({ path: [...path, 'maxInFlight'], message: 'expected maxInFlight only with rate (open model)' });
  }
  if ('repeat' in phase && phase.repeat !== undefined && phase.duration !== undefined) {
    problems.push({ path: [...path, 'repeat'], message: 'expected either repeat or duration, got both' });
  }
  if (phase.op === 'create' && phase.waitFor !== undefined && phase.of !== 'crds') {
    problems.push({ path: [...path, 'waitFor'], message: 'expected waitFor only when creating crds' });
  }
  if (!s.generate.crds) {
    problems.push({ path: [...path, 'op'], message: 'expected generate.crds: every phase works on generated CRDs or their objects' });
  }
  if ('of' in phase && phase.of === 'objects' && !s.generate.objects && phase.op === 'create') {
    problems.push({ path: [...path, 'of'], message: 'expected generate.objects to describe the objects to create' });
  }
  if (phase.op === 'watch' && phase.during === undefined && phase.duration === undefined) {
    problems.push({ path: [...path, 'watchers'], message: 'expected `during: <phase>` or `duration` so the watches know when to end' });
  }
  // Installing CRDs at a rate needs no limit: the step's level says how many.
  const installsCrds = phase.op === 'create' && phase.of === 'crds';
  if ('rate' in phase && phase.rate !== undefined && !installsCrds && phase.repeat === undefined && phase.duration === undefined && phase.during === undefined) {
    problems.push({ path: [...path, 'rate'], message: 'expected repeat or duration with an open-model rate' });
  }
  if ('rate' in phase && typeof phase.rate === 'object' && phase.duration === undefined) {
    problems.push({ path: [...path, 'rate'], message: 'expected duration with a ramping rate (the ramp spans the duration)' });
  }
  const needsObjects =
    phase.op === 'get' || phase.op === 'patch' || (phase.op === 'delete' && phase.of === 'objects') || (phase.op === 'mix' && phase.mix.some((e) => e.op === 'get' || e.op === 'patch'));
  const createsObjectsBefore = s.phases.slice(0, i).some((p) => p.op === 'create' && p.of === 'objects');
  if (needsObjects && !createsObjectsBefore) {
    problems.push({ path: [...path, 'op'], message: `expected a \`create of: objects\` phase before this ${phase.op} phase: it works on existing objects` });
  }
  if (phase.op === 'mix' && !s.generate.objects) {
    phase.mix.forEach((entry, j) => {
      if (entry.op === 'create') problems.push({ path: [...path, 'mix', j, 'of'], message: 'expected generate.objects to describe the objects to create' });
    });
  }
  return problems;
}

/** `during:` names another phase that runs on its own. */
function duringProblems(s: ScenarioDoc, names: ReadonlyMap<string, number>): RuleProblem[] {
  const problems: RuleProblem[] = [];
  s.phases.forEach((phase, i) => {
    if (phase.during === undefined) return;
    const target = names.get(phase.during);
    if (target === undefined) {
      const others = [...names.keys()].filter((n) => n !== phase.name);
      problems.push({ path: ['phases', i, 'during'], message: `expected the name of another phase (${others.join(', ')}), got "${phase.during}"` });
    } else if (target === i) {
      problems.push({ path: ['phases', i, 'during'], message: 'expected another phase, got the phase itself' });
    } else if (s.phases[target]?.during !== undefined) {
      problems.push({ path: ['phases', i, 'during'], message: `expected a phase that runs on its own, got "${phase.during}", which itself runs during another` });
    }
  });
  return problems;
}

/** The sweep: ascending levels within the generated CRDs, and phases to install CRDs or take each step's load. */
function stepProblems(s: ScenarioDoc): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const crdCount = s.generate.crds?.count ?? 0;
  if (s.steps) {
    const by = s.steps.by;
    s.steps.at.forEach((level, i) => {
      const prev = s.steps!.at[i - 1];
      if (prev !== undefined && level <= prev) problems.push({ path: ['steps', 'at', i], message: `expected levels in ascending order, got ${level} after ${prev}` });
      if (by === 'crds' && level > crdCount) problems.push({ path: ['steps', 'at', i], message: `expected at most generate.crds.count (${crdCount}), got ${level}` });
      if (by !== 'crds' && level === 0) problems.push({ path: ['steps', 'at', i], message: `expected a ${by} of at least 1, got 0` });
    });
    if (by === 'crds' && !s.phases.some((p) => p.op === 'create' && p.of === 'crds')) {
      problems.push({ path: ['steps'], message: 'expected a `create of: crds` phase to install CRDs between steps' });
    }
    if (by !== 'crds') {
      const followers = s.phases.filter(followsLoadStep);
      if (followers.length === 0) {
        problems.push({ path: ['steps', 'by'], message: `expected at least one phase without its own concurrency or rate to take each step's ${by}` });
      }
      if (by === 'rate') {
        s.phases.forEach((p, i) => {
          if (followsLoadStep(p) && (!('repeat' in p) || p.repeat === undefined) && p.duration === undefined && p.during === undefined) {
            problems.push({ path: ['phases', i, 'name'], message: 'expected repeat or duration: this phase takes the step rate (open model)' });
          }
        });
      }
    }
  }
  return problems;
}

/** stopWhen: each condition parses, and a latency one names a phase. */
function stopWhenProblems(s: ScenarioDoc, names: ReadonlyMap<string, number>): RuleProblem[] {
  const problems: RuleProblem[] = [];
  for (const [key, value] of Object.entries(s.stopWhen ?? {})) {
    try {
      const c = parseStopCondition(key, value);
      if (c.kind === 'latency' && !names.has(c.phase)) {
        problems.push({ path: ['stopWhen', key], message: `expected the name of a phase (${[...names.keys()].join(', ')}) before .${c.percentile}, got "${c.phase}"` });
      }
    } catch (err) {
      problems.push({ path: ['stopWhen', key], message: (err as Error).message });
    }
  }
  return problems;
}

/** The safety ceilings on counts and rates (lifted by allowHuge). */
function softLimitProblems(s: ScenarioDoc): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const crdCount = s.generate.crds?.count ?? 0;
  const over = (path: (string | number)[], value: number, limit: number, what: string) => {
    if (value > limit) problems.push({ path, message: `expected at most ${limit} ${what}, got ${value}`, ceiling: true });
  };
  over(['generate', 'crds', 'count'], crdCount, SOFT_LIMITS.crds, 'CRDs');
  over(['generate', 'objects', 'perCRD'], s.generate.objects?.perCRD ?? 0, SOFT_LIMITS.objectsPerCrd, 'objects per CRD');
  s.steps?.at.forEach((level, i) => {
    if (s.steps?.by === 'rate') over(['steps', 'at', i], level, SOFT_LIMITS.ratePerSecond, 'requests per second');
    if (s.steps?.by === 'concurrency') over(['steps', 'at', i], level, SOFT_LIMITS.concurrency, 'concurrent workers');
  });
  s.phases.forEach((phase, i) => {
    if ('concurrency' in phase && phase.concurrency !== undefined) over(['phases', i, 'concurrency'], phase.concurrency, SOFT_LIMITS.concurrency, 'concurrent workers');
    if ('rate' in phase && phase.rate !== undefined) over(['phases', i, 'rate'], Math.ceil(peakRatePerSecond(phase.rate)), SOFT_LIMITS.ratePerSecond, 'requests per second');
    if (phase.op === 'watch') over(['phases', i, 'watchers'], phase.watchers, SOFT_LIMITS.watchers, 'watchers');
  });
  return problems;
}

function issueProblems(issue: z.core.$ZodIssue, file: string, locate: (path: readonly PropertyKey[], key?: string) => { line: number; column: number }): InputProblem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      file,
      ...locate(path, key),
      path: dotted([...path, key]),
      message: `expected a known key, got unknown key "${key}"${suggest(key)}`,
    }));
  }
  // A bad record key (slo) is reported at the key, not at its value.
  const last = path[path.length - 1];
  const where = issue.code === 'invalid_key' && typeof last === 'string' ? locate(path.slice(0, -1), last) : locate(path);
  return [{ file, ...where, path: dotted(path), message: describeIssue(issue) }];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const got = 'input' in issue ? `, got ${describe(issue.input)}` : '';
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `expected ${issue.expected}, got nothing (required)`;
      return `expected ${issue.expected}${got}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item(s)${got}`;
      return `expected ${issue.inclusive === false ? 'more than' : 'at least'} ${issue.minimum}${got}`;
    case 'too_big':
      if (issue.origin === 'array') return `expected at most ${issue.maximum} item(s)`;
      return `expected ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}${got}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'invalid_union':
      if (issue.discriminator !== undefined && 'options' in issue && issue.options) {
        const value = (issue.input as Record<string, unknown> | undefined)?.[issue.discriminator];
        return `expected ${issue.discriminator} to be one of ${issue.options.join(', ')}, got ${describe(value)}`;
      }
      return `expected one of the allowed forms${got}`;
    case 'invalid_format':
      return `${issue.message.startsWith('expected') ? issue.message : `expected ${issue.format}`}${got}`;
    case 'invalid_key':
      return issue.path[0] === 'stopWhen'
        ? `expected serverMemory, errorRate, elapsed or a key like install.p99 (phase.percentile)${got}`
        : `expected a key like create.p99 (phase.percentile)${got}`;
    default:
      return `${issue.message}${got}`;
  }
}

function suggest(key: string): string {
  // A known key that is merely misplaced (`count` under objects) gets no self-suggestion.
  const candidates = KNOWN_KEYS.filter((k) => k !== key && editDistance(k, key) <= 2);
  return candidates.length > 0 ? ` (did you mean "${candidates[0]}"?)` : '';
}

/** Every key the schema knows, for "did you mean" hints. */
const KNOWN_KEYS = [
  'version', 'name', 'description', 'seed', 'generate', 'crds', 'objects', 'count', 'groups', 'versions', 'scope', 'schema',
  'properties', 'depth', 'arrays', 'enums', 'validationRules', 'perCRD', 'sizeBytes', 'namespaces', 'labelValues', 'steps',
  'by', 'at', 'phases', 'op', 'of', 'waitFor', 'concurrency', 'rate', 'maxInFlight', 'repeat', 'duration', 'during',
  'consistency', 'pageSize', 'labelSelector', 'mode', 'watchers', 'slo', 'onError', 'cleanup', 'mix', 'weight', 'from', 'to',
  'honorRetryAfter', 'stopWhen', 'serverMemory', 'errorRate', 'elapsed',
];

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** Offset of the node at `path` (or of `key` inside it); falls back to the nearest existing ancestor. */
function offsetOf(document: Document, path: readonly PropertyKey[], key?: string): number {
  let node: unknown = document.contents;
  let best = rangeStart(node) ?? 0;
  for (const segment of path) {
    const next = child(node, segment);
    if (next === undefined) return best;
    if (next.keyNode && typeof segment === 'string') best = rangeStart(next.keyNode) ?? best;
    node = next.value;
    best = rangeStart(node) ?? best;
  }
  if (key !== undefined) {
    const pair = child(node, key);
    if (pair?.keyNode) return rangeStart(pair.keyNode) ?? best;
  }
  return best;
}

function child(node: unknown, segment: PropertyKey): { keyNode?: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    for (const item of node.items) {
      // toJS turns a null key (`~:`) into "".
      if (isPair(item) && isScalar(item.key) && String(item.key.value ?? '') === String(segment)) {
        return { keyNode: item.key, value: item.value ?? item.key };
      }
    }
    return undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | undefined)?.range;
  return range ? range[0] : undefined;
}

export function dotted(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  // Explicit YAML tags (!!binary, !!timestamp, !!set) give non-plain objects.
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Date) return 'a timestamp';
  if (value instanceof Set) return 'a set';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line and column of a character offset. */
function linePos(lineStarts: readonly number[], offset: number): { line: number; col: number } {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: Math.max(0, offset - lineStarts[lo]!) + 1 };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function dedupe(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}:${p.column}:${p.path}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
