/**
 * docs/architecture.json (the picture: parts, the arrows the code has, what
 * must never be) and .dependency-cruiser.cjs (the executable rules,
 * `npm run lint:imports`) tell one story: the same parts on the same folders,
 * every arrow of the picture allowed by the rules, every never of the picture
 * forbidden by one. Whether the code's imports match the picture's arrows is
 * lint:imports' business for the rules; this holds the two files together.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

interface Picture {
  parts: Record<string, { is: string[]; says: string; at: [number, number] }>;
  arrows: [string, string, string?][];
  never: [string, string, string][];
}

interface PathMatch {
  path?: string;
  pathNot?: string;
}

interface Rule {
  name: string;
  from: PathMatch;
  to: PathMatch & Record<string, unknown>;
}

const picture = JSON.parse(readFileSync(path.join(ROOT, 'docs/architecture.json'), 'utf8')) as Picture;
const config = createRequire(import.meta.url)(path.join(ROOT, '.dependency-cruiser.cjs')) as { forbidden: Rule[] };

/** The rules about which part may import which (not cycles, resolution or dependency kinds). */
const partRules = config.forbidden.filter((r) => r.to.path !== undefined && Object.keys(r.to).every((k) => k === 'path' || k === 'pathNot'));

const matches = (m: PathMatch, file: string) => (m.path === undefined || new RegExp(m.path).test(file)) && (m.pathNot === undefined || !new RegExp(m.pathNot).test(file));

/** A file that stands for a part: one in its first folder. */
function fileOf(part: string): string {
  const p = picture.parts[part];
  if (!p) throw new Error(`docs/architecture.json: no part ${part}`);
  return `${p.is[0]}x.ts`;
}

/** The rules that forbid a file of `from` to import one of `to`. */
const forbidding = (from: string, to: string) => partRules.filter((r) => matches(r.from, fileOf(from)) && matches(r.to, fileOf(to))).map((r) => r.name);

describe('docs/architecture.json and .dependency-cruiser.cjs', () => {
  it('name the same parts: each a folder of src/ with its floor rule (the CLI is the top floor and has none)', () => {
    const floorRules = partRules.filter((r) => r.name.startsWith('floors-')).map((r) => r.name.slice('floors-'.length));
    const parts = Object.keys(picture.parts);
    expect(parts.map((p) => p.toLowerCase()).filter((p) => p !== 'cli').sort()).toEqual(floorRules.sort());
    for (const [name, part] of Object.entries(picture.parts)) {
      for (const folder of part.is) expect(folder, name).toMatch(/^src\/[a-z-]+\/$/);
      if (name !== 'Cli') expect(matches(partRules.find((r) => r.name === `floors-${name.toLowerCase()}`)!.from, fileOf(name)), name).toBe(true);
    }
  });

  it('every arrow of the picture is allowed by the rules', () => {
    const broken = picture.arrows.map(([from, to]) => ({ arrow: `${from} -> ${to}`, rules: forbidding(from, to) })).filter((a) => a.rules.length > 0);
    expect(broken).toEqual([]);
  });

  it('every never of the picture is forbidden by a rule', () => {
    const unenforced = picture.never.filter(([from, to]) => forbidding(from, to).length === 0).map(([from, to]) => `${from} -> ${to}`);
    expect(unenforced).toEqual([]);
  });

  it('an arrow up a floor is caught (the check can fail)', () => {
    expect(forbidding('Kube', 'Engine')).toEqual(expect.arrayContaining(['floors-kube', 'kube-never-engine']));
    expect(forbidding('Types', 'Kube')).toContain('types-never-any');
    expect(forbidding('Engine', 'Cli')).toContain('any-never-cli');
    expect(forbidding('Cli', 'Engine')).toEqual([]);
  });
});
