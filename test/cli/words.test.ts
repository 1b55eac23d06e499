/**
 * Only src/cli words things in terms of the command line: below it, errors and
 * results carry facts and the CLI turns them into "pass --allow-huge", "run
 * `asa-bench server build` first" and the like. This scans the text of every
 * string and template literal outside src/cli (comments are not read: they may
 * name the command a piece of code serves) for a command of asa-bench
 * (`asa-bench server build`, `run --threads`) or one of its flags in a
 * sentence. A flag as a whole literal (`'--count'`, an argument list) or as
 * `--flag=value` (kube-apiserver's and etcd's own flags) is not a sentence.
 * Documentation is not read either: the text of a `describe` (the scenario
 * schema's field descriptions may name the flag that does the same).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

const cliSources = sources(path.join(SRC, 'cli'));
const cliText = cliSources.map((f) => readFileSync(f, 'utf8')).join('\n');

/** The commands, from their yargs definitions (`command: 'run <scenario>'`). */
const COMMANDS = [...cliText.matchAll(/command: '([a-z][a-z-]*)/g)].map((m) => m[1]!);
/** The flags, from `.option('name'` and `.options({ name: …` in src/cli. */
const FLAGS = [...cliText.matchAll(/\.option\('([a-z][a-z0-9-]*)'/g)].map((m) => m[1]!);

const commandWords = new RegExp(`(asa-bench|\`)\\s*(${COMMANDS.join('|')})\\b(?![-=])`);
const flagWords = new RegExp(`(^|[\\s\`(])--(${FLAGS.join('|')})(?![a-z0-9=-])`);

/** What may stay, and why: [file, the literal's exact text]. */
const ALLOWED: [string, string][] = [
  // The title of compare's report names the tool and command that wrote it.
  ['compare/render.ts', '## asa-bench compare: '],
];

/** A `describe` text: `.describe('…')` (zod) or `describe: '…'` (yargs, the server spec's keys). */
function isDescription(node: ts.Node): boolean {
  const p = node.parent;
  if (ts.isCallExpression(p) && ts.isPropertyAccessExpression(p.expression)) return p.expression.name.text === 'describe';
  if (ts.isPropertyAssignment(p) && p.initializer === node) return ts.isIdentifier(p.name) && p.name.text === 'describe';
  return false;
}

/** The text of every string and template literal in a file, with its line. */
function literals(file: string): { line: number; text: string }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      // Import specifiers are module paths, not words.
      if (!ts.isImportDeclaration(node.parent) && !ts.isExportDeclaration(node.parent) && !isDescription(node)) {
        found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `file:line: text` for each literal that words the CLI. */
function cliWordsIn(file: string): string[] {
  const relative = path.relative(SRC, file);
  return literals(file)
    .filter(({ text }) => !ALLOWED.some(([f, t]) => f === relative && t === text))
    .filter(({ text }) => commandWords.test(text) || (/\s/.test(text.trim()) && flagWords.test(text)))
    .map(({ line, text }) => `${relative}:${line}: ${text}`);
}

describe('CLI words stay in src/cli', () => {
  it('reads the commands and flags from src/cli', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(['run', 'server', 'calibrate', 'ab', 'merge', 'distribute-worker']));
    expect(FLAGS).toEqual(expect.arrayContaining(['allow-huge', 'kubeconfig', 'context', 'repeat', 'threads']));
  });

  it('finds a command or a flag in a sentence, and not a flag alone or a server flag', () => {
    const words = (text: string) => commandWords.test(text) || (/\s/.test(text.trim()) && flagWords.test(text));
    expect(words('run `asa-bench server build` first')).toBe(true);
    expect(words('pass --allow-huge if you mean it')).toBe(true);
    expect(words('use --repeat 5 or more')).toBe(true);
    expect(words('(pass --kubeconfig)')).toBe(true);
    expect(words('--kubeconfig')).toBe(false);
    expect(words('--kubeconfig=/tmp/kc')).toBe(false);
    expect(words('each under --etcd-prefix=/tenant-1')).toBe(false);
    expect(words('asa-bench load 1/2')).toBe(false);
    expect(words('the asa-bench generators')).toBe(false);
  });

  it('no string outside src/cli names a command or flag of asa-bench', () => {
    const found = sources(SRC)
      .filter((f) => !cliSources.includes(f))
      .flatMap(cliWordsIn);
    expect(found).toEqual([]);
  });
});
