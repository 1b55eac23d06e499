/**
 * `ab` with server specs on both sides: a prebuilt binary (binary=) with an
 * extra flag (arg=--watch-cache=false) against the release. Without the
 * watch cache, lists at resourceVersion=0 are read from etcd instead of
 * memory; the comparison names the cache reads as the regression, and the
 * column headings say what each side was.
 *
 * Both sides run the bare server (controllers=none) to keep this test short;
 * test/integration/server-spec.test.ts covers kube-controller-manager.
 * Thresholds are wide (a shared 2-core machine is noisy); the effect measured
 * here is several times larger.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { componentPath } from '../../src/controlplane/paths.js';
import type { RunInfo } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

const SCENARIO = `version: 1
name: ab-watch-cache
seed: 11
generate:
  crds: { count: 1, groups: 1 }
  objects: { perCRD: 150, sizeBytes: 2048, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 1, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 8 }
  - { name: list, op: list, consistency: cache, concurrency: 2, repeat: 60 }
cleanup: true
`;

let root: string;
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('ab --baseline SPEC --candidate SPEC', () => {
  it('binary= with arg=--watch-cache=false: the cache reads regress, and the headings say which build is which', { timeout: 900_000 }, async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'asa-ab-spec-'));
    const scenario = path.join(root, 'scenario.yaml');
    await writeFile(scenario, SCENARIO);
    const version = inject('serverVersion');
    const binary = componentPath('kube-apiserver', version);
    const out = path.join(root, 'ab');
    const res = await runCli([
      'ab',
      scenario,
      '--baseline',
      `${version},controllers=none`,
      '--candidate',
      `binary=${binary},controllers=none,arg=--watch-cache=false`,
      '--repeat',
      '3',
      '--out',
      out,
      '--threshold-p99',
      '50',
      '--p99-floor-ms',
      '2',
    ]);
    expect(res.code, res.stdout + res.stderr.slice(-3000)).toBe(1);
    expect(res.stdout).toMatch(/^REGRESSION/m);
    expect(res.stdout).toMatch(/list\s+list\.cache.*REGRESSION/);
    expect(res.stdout).not.toMatch(/create\s+object\.create.*REGRESSION/);
    expect(res.stdout).toContain(`binary=kube-apiserver (sha256 `);
    expect(res.stdout).toContain(`${version},controllers=none ×3 (baseline)`);
    const candidate = JSON.parse(await readFile(path.join(out, 'candidate', 'rep-01', 'run.json'), 'utf8')) as RunInfo;
    expect(candidate.server).toMatchObject({ kind: 'binary', controllers: 'none', args: ['--watch-cache=false'], kubeApiserver: { path: binary } });
    expect(candidate.target.version.gitVersion).toBe(version);
  });
});
