/**
 * An older Node (the machine's default `node`, a global install) gets one line
 * saying what is needed and how to run the pinned Node, not a stack trace from a
 * dependency. The children run the pinned Node with a preload that makes
 * process.versions.node report an old version; where an older `node` is really
 * on PATH (as on the development machine's Node 20), it is used as well.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
// @ts-expect-error plain JavaScript without types (it must run on any Node)
import { NODE_MAJOR, nodeVersionProblem } from '../../bin/check-node.js';

const PRETEND_NODE_20 = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"})';
const SCRIPTS = ['bin/asa-bench.js', 'bench/engine.mjs', 'bench/reference.mjs', 'bench/truth.mjs', 'bench/watch-transport.mjs', 'bench/engine-worker.mjs'];

function run(node: string, preload: string[], script: string) {
  return spawnSync(node, [...preload, path.join(ROOT, script), '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
}

/** A `node` on PATH other than the pinned one, if it is older than the one the project needs. */
function olderNodeOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const candidate = path.join(dir, 'node');
    const r = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0 && Number(r.stdout.split('.')[0]) < NODE_MAJOR) return candidate;
  }
  return undefined;
}

describe('Node version check', () => {
  it('accepts the pinned major and newer, names the way to run the pinned Node otherwise', () => {
    expect(nodeVersionProblem('24.21.0', 'bin/asa-bench.js')).toBeUndefined();
    expect(nodeVersionProblem('26.0.0', 'bench/engine.mjs')).toBeUndefined();
    expect(nodeVersionProblem('22.12.0', '/usr/local/bin/asa-bench')).toMatch(/needs Node\.js 24 or newer, but this is Node\.js v22\.12\.0.*npx asa-bench/);
    expect(nodeVersionProblem('20.20.2', 'bench/engine.mjs')).toContain('./node_modules/.bin/node bench/engine.mjs');
  });

  it.each(SCRIPTS)('%s on an older Node prints one line and exits 2, before any dependency loads', (script) => {
    const r = run(process.execPath, ['--import', PRETEND_NODE_20], script);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/needs Node\.js 24 or newer, but this is Node\.js v20\.20\.2; run it with the project's pinned Node/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the launcher runs on the pinned Node', () => {
    const r = run(process.execPath, [], 'bin/asa-bench.js');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  const older = olderNodeOnPath();
  it.runIf(older !== undefined)(`a real older Node on PATH (${older ?? 'none found: only the preload case ran'}) gets the one line`, () => {
    const r = run(older!, [], 'bin/asa-bench.js');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^asa-bench: needs Node\.js 24 or newer, but this is Node\.js v\d+\.[\d.]+; run it with the project's pinned Node: `npx asa-bench …`/);
  });
});
