/**
 * Scenario loading against fixtures: every valid file loads; every invalid one
 * fails with exactly the problems in its sibling `.expected` file, each at the
 * line and column of the offending key or value.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/errors.js';
import { loadScenarioFile, parseScenario } from '../../src/scenarios/parse.js';
import { InputError, UsageError } from '../../src/types/errors.js';

const VALID = 'test/fixtures/scenarios/valid';
const INVALID = 'test/fixtures/scenarios/invalid';
const SHIPPED = 'scenarios';

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `${dir}/${f}`);

async function loadError(file: string): Promise<InputError> {
  try {
    await loadScenarioFile(file);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error(`${file} loaded, but it should not`);
}

/**
 * What each reported line:col must point at in the fixture text (the start of
 * the offending key or value), one entry per expected problem, in order.
 * Checked by hand once; kept here so a drift in positions shows up clearly.
 */
const POINTS_AT: Record<string, string[]> = {
  'absurd-values': ['10000000', '100000'],
  'bad-duration': ['30 seconds'],
  'bad-rate': ['200 per second'],
  'duplicate-phase-names': ['list'],
  'during-missing-phase': ['pach'],
  empty: [''],
  'invalid-yaml': ['- name: list'],
  'many-problems': ['2', 'Many_Problems', '0', 'big', 'concurency: 5', 'eventual', '0', 'onEror:'],
  'misspelled-key': ['concurency: 4'],
  'negative-count': ['-5'],
  'profile-typo': ['heaps: true }'],
  'rate-and-concurrency': ['100/s'],
  'steps-above-count': ['100'],
  'steps-not-ascending': ['20, 100]'],
  'top-level-list': ['- version: 1'],
  'unknown-op': ['update'],
  'wrong-type': ['"ten"'],
};

describe('valid scenarios load', () => {
  const files = [...yamlFiles(VALID), ...yamlFiles(SHIPPED)];

  it('has fixtures and shipped scenarios to load', () => {
    expect(yamlFiles(VALID).length).toBeGreaterThanOrEqual(4);
    expect(yamlFiles(SHIPPED)).toContain('scenarios/smoke.yaml');
  });

  it.each(files)('%s', async (file) => {
    const loaded = await loadScenarioFile(file);
    expect(loaded.file).toBe(file);
    expect(loaded.doc.version).toBe(1);
    expect(loaded.doc.phases.length).toBeGreaterThan(0);
    expect(Object.isFrozen(loaded.doc)).toBe(true);
    expect(Object.isFrozen(loaded.doc.phases[0])).toBe(true);
  });

  it('covers steps, the open model and during/watch', async () => {
    const docs = await Promise.all(yamlFiles(VALID).map(async (f) => (await loadScenarioFile(f)).doc));
    expect(docs.some((d) => d.steps !== undefined && d.steps.at.length > 1)).toBe(true);
    expect(docs.some((d) => d.phases.some((p) => 'rate' in p && p.rate !== undefined))).toBe(true);
    expect(docs.some((d) => d.phases.some((p) => p.op === 'watch' && p.during !== undefined))).toBe(true);
    expect(docs.some((d) => d.phases.some((p) => p.op === 'watch' && p.duration !== undefined))).toBe(true);
  });

  it('fills in defaults', async () => {
    const { doc } = await loadScenarioFile(`${VALID}/minimal.yaml`);
    expect(doc.seed).toBe(1);
    expect(doc.onError).toBe('continue');
    expect(doc.cleanup).toBe(true);
    expect(doc.generate.crds).toEqual({
      count: 3,
      groups: 1,
      versions: 1,
      scope: 'Namespaced',
      schema: { properties: 10, depth: 2, arrays: true, enums: true, validationRules: 0 },
    });
    expect(doc.phases[1]).toEqual({ name: 'list', op: 'list', of: 'objects', consistency: 'quorum', scope: 'namespace', labelSelector: false });
  });
});

describe('invalid scenarios are rejected with positioned problems', () => {
  const files = yamlFiles(INVALID);

  it('has a fixture for each kind of mistake, each with an .expected file', () => {
    expect(files.map((f) => f.slice(INVALID.length + 1, -'.yaml'.length))).toEqual(Object.keys(POINTS_AT).sort());
  });

  it.each(files)('%s', async (file) => {
    const expected = readFileSync(file.replace(/\.yaml$/, '.expected'), 'utf8').trimEnd();
    const err = await loadError(file);
    // As the CLI prints it (a safety ceiling says how to lift it: describeError).
    expect(describeError(err).message).toBe(expected);
    expect(err.exitCode).toBe(2);
    expect(err.problems).toHaveLength(expected.split('\n').length);
    for (const p of err.problems) {
      expect(p.file).toBe(file);
      expect(p.message).toContain('expected');
    }
  });

  it.each(files)('%s: each line:col points at the offending key or value', async (file) => {
    const name = file.slice(INVALID.length + 1, -'.yaml'.length);
    const lines = readFileSync(file, 'utf8').split('\n');
    const err = await loadError(file);
    const pointedAt = err.problems.map((p) => (lines[p.line - 1] ?? '').slice(p.column - 1));
    const wanted = POINTS_AT[name] ?? [];
    expect(pointedAt).toHaveLength(wanted.length);
    pointedAt.forEach((text, i) => expect(text.startsWith(wanted[i]!), `problem ${i}: "${text}" should start with "${wanted[i]}"`).toBe(true));
  });

  it('reports every schema problem of a file at once', async () => {
    const err = await loadError(`${INVALID}/many-problems.yaml`);
    expect(err.problems.map((p) => p.path)).toEqual([
      'version',
      'name',
      'generate.crds.count',
      'generate.objects.sizeBytes',
      'phases[0].concurency',
      'phases[1].consistency',
      'phases[1].repeat',
      'onEror',
    ]);
  });

  it('lifts the soft limits with allowHuge', async () => {
    const text = readFileSync(`${INVALID}/absurd-values.yaml`, 'utf8');
    const doc = parseScenario(text, 'absurd-values.yaml', { allowHuge: true });
    expect(doc.generate.crds?.count).toBe(10_000_000);
  });

  it('marks a soft limit as a ceiling, in words that name no flag (the CLI adds how to lift it)', async () => {
    const err = await loadError(`${INVALID}/absurd-values.yaml`);
    expect(err.problems.map((p) => [p.message, p.ceiling])).toEqual([
      ['expected at most 20000 CRDs, got 10000000', true],
      ['expected at most 5000 concurrent workers, got 100000', true],
    ]);
    expect(describeError(err).message.split('\n')[0]).toBe(`${INVALID}/absurd-values.yaml:4:18 generate.crds.count: expected at most 20000 CRDs, got 10000000 (pass --allow-huge if you mean it)`);
  });

  it('reports an unreadable file as a usage error', async () => {
    await expect(loadScenarioFile(`${INVALID}/no-such-file.yaml`)).rejects.toBeInstanceOf(UsageError);
  });
});

describe('parseScenario edge cases', () => {
  const problems = (text: string) => {
    try {
      parseScenario(text, 'f.yaml');
    } catch (err) {
      if (err instanceof InputError) return err.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
      throw err;
    }
    throw new Error('parsed');
  };
  const base = 'version: 1\nname: x\ngenerate:\n  crds: { count: 2 }\nphases:\n  - { name: install, op: create, of: crds }\n';

  it('turns alias bombs into an InputError', () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(10).fill('*a').join(', ')}]\nc: &c [${Array(10).fill('*b').join(', ')}]\nd: [${Array(10).fill('*c').join(', ')}]\n`;
    expect(problems(bomb)).toEqual(['1:1 : expected valid YAML: Excessive alias count indicates a resource exhaustion attack']);
  });

  it('rejects a tagged non-mapping document as a whole', () => {
    expect(problems('!!binary aGVsbG8=\n')).toEqual(['1:1 : expected a mapping with version, name and phases, got binary data']);
  });

  it('reports duplicate keys as YAML problems at the duplicate', () => {
    expect(problems(`${base}name: y\n`)).toEqual(['7:1 : expected valid YAML: Map keys must be unique']);
  });

  it('does not suggest a misplaced key as its own correction', () => {
    expect(problems(base.replace('crds: { count: 2 }', 'crds: { count: 2 }\n  objects: { count: 5 }'))).toEqual([
      '5:14 generate.objects.count: expected a known key, got unknown key "count"',
    ]);
  });

  it('points at the phase when a required key is missing', () => {
    expect(problems(`${base}  - { op: list }\n`)).toEqual(['7:5 phases[1].name: expected string, got nothing (required)']);
  });

  it('keeps YAML error positions on the right line inside a broken flow collection', () => {
    // yaml's LineCounter misses the line break after `100 }` here (found by the fuzz test).
    const text = `${base}  - {{ name: a, op: list }\n  - { name: b, repeat: x } 100 }\n  - { name: c, op: get }\n`;
    const lines = text.split('\n');
    const err = (() => {
      try {
        parseScenario(text, 'f.yaml');
      } catch (e) {
        return e as InputError;
      }
      throw new Error('parsed');
    })();
    expect(err).toBeInstanceOf(InputError);
    for (const p of err.problems) {
      expect(p.message).toMatch(/^expected valid YAML: /);
      expect(p.column).toBeLessThanOrEqual(lines[p.line - 1]!.length + 1);
    }
    expect(err.problems.some((p) => p.line === 9)).toBe(true);
  });

  it('points at the key of an unknown slo entry', () => {
    expect(problems(`${base}slo:\n  install.p98: 1s\n`)).toEqual(['8:3 slo.install.p98: expected a key like create.p99 (phase.percentile), got "install.p98"']);
  });
});
