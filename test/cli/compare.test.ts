/**
 * `compare` and `calibrate --from` end to end through the built CLI, on result
 * folders written here (no server): exit codes 0, 1, 6 and 2, the noise file
 * round trip, and one-line errors.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { makeRun, type RowSpec } from '../compare/fixtures.js';
import { runCli } from '../helpers/cli.js';

let root: string;
const info = (runId: string): RunInfo => ({
  formatVersion: 1,
  runId,
  tool: { name: 'asa-bench', version: 'test', node: 'v24' },
  scenario: { name: 'reads-small', file: 'scenarios/reads-small.yaml', sha256: 'abc', text: '' },
  target: { server: 'https://127.0.0.1:6443', context: 'local', local: true, version: { gitVersion: 'v1.37.2' } },
  machine: { cores: 2, memoryBytes: 1, platform: 'linux-x64' },
  flags: {},
  startedAt: '2026-11-29T00:00:00Z',
  status: 'complete',
});

async function writeReps(name: string, p99s: number[], extra: Partial<RowSpec> = {}): Promise<string> {
  const dir = path.join(root, name);
  for (const [i, p99] of p99s.entries()) {
    const rep = path.join(dir, `rep-${i + 1}`);
    await mkdir(rep, { recursive: true });
    const summary: RunSummary = makeRun([
      { phase: 'list-cache', op: 'list.cache', p99, ...extra },
      { phase: 'get-quorum', op: 'get.quorum', p99: 3 + (i % 2) * 0.1 },
    ]);
    await writeFile(path.join(rep, 'run.json'), JSON.stringify(info(`${name}-${i}`)));
    await writeFile(path.join(rep, 'summary.json'), JSON.stringify(summary));
  }
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'asa-compare-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('asa-bench compare (CLI)', () => {
  it('exit 0 for noise, 1 for a regression naming the row; a row with too few samples is not comparable', async () => {
    const a = await writeReps('a', [5, 5.4, 4.8]);
    const b = await writeReps('b', [5.2, 4.9, 5.3]);
    const slow = await writeReps('slow', [10, 10.6, 9.7]);
    const few = await writeReps('few', [5, 5, 5], { ok: 5 });
    const same = await runCli(['compare', a, b]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^No regression/);
    const worse = await runCli(['compare', a, slow, '--format', 'md']);
    expect(worse.code, worse.stderr).toBe(1);
    expect(worse.stdout).toMatch(/\| list-cache \| list\.cache \| p99 \|.*\| REGRESSION \(p99 \+\d+%\) \|/);
    const none = await runCli(['compare', few, few, '--format', 'csv']);
    // get.quorum is still judged there; only list.cache has too few samples.
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^0,0,list-cache,list\.cache,,.*,not-comparable,too few samples: 5 successful/m);
  });

  it('calibrate --from writes a noise file that compare --noise uses; a bad noise file is one line, exit 2', async () => {
    const aa = await writeReps('aa', [5, 5.3, 4.9, 5.1, 5.2, 4.8]);
    const cal = await runCli(['calibrate', '--from', aa, '--plan-repeat', '1']);
    expect(cal.code, cal.stderr).toBe(0);
    expect(cal.stdout).toMatch(/^detects p99 changes ≥ \d+% for list\.cache \(step 0 list-cache\)$/m);
    const noiseFile = path.join(aa, 'noise.json');
    const noise = JSON.parse(await readFile(noiseFile, 'utf8')) as { runs: number; server: string };
    expect(noise).toMatchObject({ runs: 6, server: 'v1.37.2' });

    const one = await writeReps('one', [5]);
    const oneSlow = await writeReps('one-slow', [9]);
    const judged = await runCli(['compare', one, oneSlow, '--noise', noiseFile, '--format', 'json']);
    expect(judged.code, judged.stderr).toBe(1);
    const json = JSON.parse(judged.stdout) as { tests: number; noise: { runs: number } };
    expect(json.noise.runs).toBe(6);
    expect(json.tests).toBeGreaterThan(0);

    await writeFile(path.join(root, 'bad.json'), '{"kind":"x"}');
    const bad = await runCli(['compare', one, oneSlow, '--noise', path.join(root, 'bad.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toMatch(/^asa-bench: .*bad\.json: not a noise file: kind: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('exit 6 when no row can be judged', async () => {
    const dir = path.join(root, 'empty');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'run.json'), JSON.stringify(info('e')));
    await writeFile(path.join(dir, 'summary.json'), JSON.stringify(makeRun([{ phase: 'l', op: 'list.cache', p99: 5, ok: 3 }])));
    const r = await runCli(['compare', dir, dir]);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/^INCONCLUSIVE/);
  });

  it('calibrate with neither a scenario nor --from is a usage error', async () => {
    const r = await runCli(['calibrate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^asa-bench: calibrate: name a scenario file, or pass --from/);
  });
});
