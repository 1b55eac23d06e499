/**
 * The GitHub workflows pass actionlint (built by scripts/actionlint.sh from
 * its Go module, as `npm test` does before the tests), actionlint really
 * fails a broken workflow, and the nightly job keeps the properties its
 * design depends on.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.js';

const NIGHTLY = path.join(ROOT, '.github/workflows/nightly.yml');
let tmp: string | undefined;
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const actionlint = (...files: string[]) => spawnSync('bash', [path.join(ROOT, 'scripts/actionlint.sh'), ...files], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });

interface Step {
  name?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
  run?: string;
}

describe('GitHub workflows', () => {
  it('pass actionlint', { timeout: 300_000 }, () => {
    const r = actionlint();
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('actionlint fails a broken copy of the nightly workflow', { timeout: 300_000 }, async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-actionlint-'));
    const broken = (await readFile(NIGHTLY, 'utf8')).replace('steps.ab.outputs.code', 'steps.a-b-typo.outputs.code');
    const file = path.join(tmp, 'nightly.yml');
    await writeFile(file, broken);
    const r = actionlint(file);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('a-b-typo');
  });

  it('nightly: one job, setup-go without its own cache, only .asa/bin cached, summary and artifacts written whatever happened', async () => {
    const doc = parse(await readFile(NIGHTLY, 'utf8')) as { jobs: Record<string, { steps: Step[] }> };
    const jobs = Object.values(doc.jobs);
    expect(jobs).toHaveLength(1);
    const steps = jobs[0]!.steps;
    const go = steps.find((s) => s.uses?.startsWith('actions/setup-go'))!;
    expect(go.with?.cache).toBe(false);
    const caches = steps.filter((s) => s.uses?.startsWith('actions/cache'));
    expect(caches.map((s) => String(s.with?.path).trim())).toEqual(['.asa/bin']);
    const ab = steps.find((s) => s.run?.includes('asa-bench ab'))!;
    expect(ab.run).toMatch(/--repeat "\$REPEAT"/);
    for (const s of steps.slice(steps.indexOf(ab) + 1)) expect(s.if, s.name ?? s.uses).toBe('always()');
    expect(steps.some((s) => s.run?.includes('GITHUB_STEP_SUMMARY'))).toBe(true);
    expect(steps.some((s) => s.uses?.startsWith('actions/upload-artifact'))).toBe(true);
  });
});
