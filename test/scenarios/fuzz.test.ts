/**
 * Property-based tests of the scenario loader: whatever the text, parseScenario
 * either returns a deeply frozen document or throws an InputError whose every
 * problem has a real position (line, column ≥ 1, inside the text) and says what
 * was expected. Any other exception is a loader bug.
 *
 * Seeds are random; a failure prints the seed and the shrunk input to replay.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenarios/parse.js';
import { InputError } from '../../src/types/errors.js';

const RANDOM_STRINGS = 2000;
const YAML_SYMBOL_STRINGS = 2000;
const YAMLISH_DOCUMENTS = 1000;
const SCENARIO_SHAPED_DOCUMENTS = 1500;
const MUTATED_INPUTS = 3000;

const SMOKE = readFileSync(new URL('../../scenarios/smoke.yaml', import.meta.url), 'utf8');
const FILE = 'fuzz.yaml';

type Outcome = 'valid' | 'invalid';

function isDeepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

/** The property: a frozen doc, or an InputError with well-formed problems. */
function check(text: string): Outcome {
  let doc: unknown;
  try {
    doc = parseScenario(text, FILE);
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`expected an InputError, got ${String(err)}`, { cause: err });
    const lines = text.split('\n');
    if (err.problems.length === 0) throw new Error('InputError without problems');
    for (const p of err.problems) {
      const where = `${p.line}:${p.column} ${p.path}: ${p.message}`;
      if (p.file !== FILE) throw new Error(`wrong file in ${where}`);
      if (!Number.isInteger(p.line) || p.line < 1 || p.line > lines.length) throw new Error(`line out of range in ${where}`);
      const lineLength = lines[p.line - 1]!.length;
      if (!Number.isInteger(p.column) || p.column < 1 || p.column > lineLength + 1) throw new Error(`column out of range in ${where}`);
      if (!p.message.includes('expected')) throw new Error(`message without "expected" in ${where}`);
    }
    return 'invalid';
  }
  if (!isDeepFrozen(doc)) throw new Error('returned document is not deeply frozen');
  return 'valid';
}

/** Runs the property and counts outcomes, so each suite can show it reaches both. */
function run(arbitrary: fc.Arbitrary<string>, numRuns: number): Record<Outcome, number> {
  const seen: Record<Outcome, number> = { valid: 0, invalid: 0 };
  fc.assert(
    fc.property(arbitrary, (text) => {
      seen[check(text)]++;
    }),
    { numRuns },
  );
  return seen;
}

// Vocabulary: keys and values the schema knows, plus near misses.
const KEYS = [
  'version', 'name', 'description', 'seed', 'generate', 'crds', 'objects', 'count', 'groups', 'versions', 'scope', 'schema',
  'properties', 'depth', 'arrays', 'enums', 'validationRules', 'perCRD', 'sizeBytes', 'namespaces', 'labelValues', 'steps',
  'by', 'at', 'phases', 'op', 'of', 'waitFor', 'concurrency', 'rate', 'maxInFlight', 'repeat', 'duration', 'during',
  'consistency', 'pageSize', 'labelSelector', 'mode', 'watchers', 'slo', 'onError', 'cleanup', 'concurency', '$schema',
  'create.p99', 'list.max', '__proto__', 'constructor', '',
];
const WORDS = [
  'create', 'patch', 'delete', 'list', 'get', 'discovery', 'openapi', 'watch', 'crds', 'objects', 'quorum', 'cache',
  'namespace', 'all', 'aggregated', 'legacy-fanout', 'v2', 'v3', 'v3-groups', 'established', 'Namespaced', 'Cluster',
  'continue', 'abort-run', '30s', '500ms', '1.5h', '200/s', '600/m', '0/s', '-1s', 'ten', 'install', 'smoke', 'Bad_Name',
];
const SCALARS: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.integer({ min: -5, max: 30 }),
  fc.integer(),
  fc.constantFrom(0, 1, 2, 20_000, 20_001, 1e7, 1e400, -0, 0.5, Number.NaN),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
);
const KEY = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });

/** Arbitrary nested mappings, lists and scalars with schema-like keys. */
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    SCALARS,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(KEY, tie('tree'), { maxKeys: 6 }),
  ),
}));

/** Usually absent (undefined keys are not serialised), so many documents stay valid. */
const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** A well-formed phase of each op (names are added by position). */
const wellFormedPhase: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ op: fc.constant('create'), of: fc.constantFrom('crds', 'objects'), concurrency: maybe(fc.integer({ min: 1, max: 10 })), waitFor: maybe(fc.constant('established')) }),
  fc.record({ op: fc.constant('patch'), of: fc.constant('objects'), repeat: maybe(fc.integer({ min: 1, max: 5 })) }),
  fc.record({ op: fc.constant('delete'), of: fc.constantFrom('crds', 'objects') }),
  fc.record({ op: fc.constant('list'), consistency: maybe(fc.constantFrom('quorum', 'cache')), pageSize: maybe(fc.integer({ min: 1, max: 50 })), repeat: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('get'), rate: fc.constantFrom('10/s', '600/m', '1000000/s'), maxInFlight: maybe(fc.integer({ min: 1, max: 5 })), duration: fc.constantFrom('1s', '250ms') }),
  fc.record({ op: fc.constant('discovery'), mode: maybe(fc.constantFrom('aggregated', 'legacy-fanout')) }),
  fc.record({ op: fc.constant('openapi'), version: maybe(fc.constantFrom('v2', 'v3', 'v3-groups')) }),
  fc.record({ op: fc.constant('watch'), watchers: fc.integer({ min: 1, max: 30_000 }), duration: fc.constantFrom('1s', '2m') }),
);

/** One wrong or surprising field: an unknown key, a bad value, a `during`, a clashing name. */
const corruption = fc.record({
  key: fc.oneof(KEY, fc.constantFrom('name', 'op', 'of', 'during', 'concurrency', 'rate', 'repeat', 'duration', 'watchers')),
  value: fc.oneof(SCALARS, fc.constantFrom('p0', 'p1', 'p2'), tree),
});

/** Phases named p0, p1, …; about one in five carries a corruption. */
const phases = fc
  .array(fc.tuple(wellFormedPhase, fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: corruption })), { maxLength: 5 })
  .map((list) => list.map(([p, c], i) => ({ name: `p${i}`, ...p, ...(c ? { [c.key]: c.value } : {}) })));

/** Documents shaped like scenarios, so the later stages (cross-field rules, limits) run too. */
const scenarioShaped = fc.record(
  {
    version: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: SCALARS }),
    name: fc.oneof({ weight: 8, arbitrary: fc.constant('fuzz') }, { weight: 1, arbitrary: SCALARS }),
    seed: maybe(fc.oneof(fc.integer(), SCALARS)),
    generate: fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      {
        weight: 8,
        arbitrary: fc.record(
          {
            crds: fc.record(
              { count: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 40 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 20_001, 1e7) }), groups: maybe(fc.integer({ min: 0, max: 50 })) },
              { requiredKeys: ['count'] },
            ),
            objects: fc.option(fc.record({ perCRD: maybe(fc.integer({ min: 0, max: 20_000 })), sizeBytes: maybe(fc.integer({ min: 0, max: 2_000_000 })) }), { nil: undefined }),
            junk: maybe(maybe(tree)),
          },
          { requiredKeys: ['crds'] },
        ),
      },
    ),
    steps: maybe(maybe(fc.record({ by: fc.constantFrom('crds', 'objects'), at: fc.array(fc.integer({ min: -1, max: 50 }), { maxLength: 5 }) }))),
    phases: fc.oneof({ weight: 8, arbitrary: phases }, { weight: 1, arbitrary: tree }),
    slo: maybe(fc.dictionary(fc.constantFrom('p0.p99', 'p1.max', 'x.p98', 'NoDot'), fc.constantFrom('1s', 'fast', '5m'))),
    onError: maybe(fc.constantFrom('continue', 'abort-run', 'panic')),
  },
  { requiredKeys: ['version', 'name', 'phases'] },
);

/** Serialises with a random mix of block and flow style. */
const asYaml = (value: fc.Arbitrary<unknown>) =>
  fc.tuple(value, fc.constantFrom<'any' | 'block' | 'flow'>('any', 'block', 'flow')).map(([v, collectionStyle]) => stringify(v, { collectionStyle }));

// Mutations of the shipped smoke scenario.
type Mutation =
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; to: number }
  | { kind: 'replace'; at: number; char: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'swapValues'; a: number; b: number }
  | { kind: 'changeKey'; which: number; key: string };

const YAML_CHARS = [...':-{}[],#&*!|>\'"%@`?~ \n\t\r0123456789abcxyz.\\/'];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 80 }), to: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: fc.oneof(fc.constantFrom(...YAML_CHARS), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...KEYS.map((k) => `${k}: `), ...WORDS, '\n  - ', ', ', '&a ', '*a', '!!str ', '---\n', '{', '}'), fc.string({ maxLength: 6 })) }),
  fc.record({ kind: fc.constant('swapValues' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('changeKey' as const), which: fc.nat(), key: KEY }),
);

const KEY_VALUE = /([A-Za-z$][\w.$-]*"?):[ ]+([^,{}\n]+?)(?=\s*[,}\n])/g;

function applyMutation(text: string, m: Mutation): string {
  const n = text.length;
  const pos = (i: number) => (n === 0 ? 0 : i % (n + 1));
  switch (m.kind) {
    case 'delete': {
      const at = pos(m.at);
      return text.slice(0, at) + text.slice(at + m.length);
    }
    case 'duplicate': {
      const at = pos(m.at);
      const piece = text.slice(at, at + m.length);
      const to = pos(m.to);
      return text.slice(0, to) + piece + text.slice(to);
    }
    case 'replace': {
      if (n === 0) return m.char;
      const at = m.at % n;
      return text.slice(0, at) + m.char + text.slice(at + 1);
    }
    case 'insert': {
      const at = pos(m.at);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case 'swapValues': {
      const pairs = [...text.matchAll(KEY_VALUE)];
      if (pairs.length < 2) return text;
      const first = pairs[m.a % pairs.length]!;
      const second = pairs[m.b % pairs.length]!;
      if (first === second) return text;
      const [x, y] = first.index < second.index ? [first, second] : [second, first];
      const valueStart = (p: RegExpExecArray) => p.index + p[0].length - p[2]!.length;
      const xs = valueStart(x);
      const ys = valueStart(y);
      return text.slice(0, xs) + y[2] + text.slice(xs + x[2]!.length, ys) + x[2] + text.slice(ys + y[2]!.length);
    }
    case 'changeKey': {
      const pairs = [...text.matchAll(KEY_VALUE)];
      if (pairs.length === 0) return text;
      const p = pairs[m.which % pairs.length]!;
      return text.slice(0, p.index) + m.key + text.slice(p.index + p[1]!.length);
    }
  }
}

const mutatedSmoke = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => ms.reduce(applyMutation, SMOKE));

describe('parseScenario never fails with anything but a positioned InputError', () => {
  it('accepts the unmutated smoke scenario (the mutation base)', () => {
    expect(check(SMOKE)).toBe('valid');
  });

  it(`${RANDOM_STRINGS} random strings`, () => {
    const seen = run(fc.string({ unit: 'binary', maxLength: 300 }), RANDOM_STRINGS);
    expect(seen.invalid).toBe(RANDOM_STRINGS);
  });

  it(`${YAML_SYMBOL_STRINGS} random strings of YAML punctuation`, () => {
    const seen = run(fc.string({ unit: fc.constantFrom(...YAML_CHARS, 'version: 1\n', 'name: x\n', 'phases:\n'), maxLength: 120 }), YAML_SYMBOL_STRINGS);
    expect(seen.invalid).toBeGreaterThan(0);
  });

  it(`${YAMLISH_DOCUMENTS} random YAML documents`, () => {
    const seen = run(asYaml(tree), YAMLISH_DOCUMENTS);
    expect(seen.invalid).toBeGreaterThan(0);
  });

  it(`${SCENARIO_SHAPED_DOCUMENTS} scenario-shaped YAML documents`, () => {
    const seen = run(asYaml(scenarioShaped), SCENARIO_SHAPED_DOCUMENTS);
    expect(seen.invalid).toBeGreaterThan(0);
    expect(seen.valid).toBeGreaterThan(0);
  });

  it(`${MUTATED_INPUTS} mutated inputs (scenarios/smoke.yaml with 1-4 edits)`, () => {
    const seen = run(mutatedSmoke, MUTATED_INPUTS);
    expect(seen.invalid).toBeGreaterThan(0);
    expect(seen.valid).toBeGreaterThan(0);
  });
});
