/**
 * A patched k8s.io/kubernetes tree is a build (opt-in: `npm run test:builds`;
 * it compiles kube-apiserver and kube-controller-manager from two source
 * trees, see README "Development" for how long that takes).
 *
 * Two copies of the release's module source (what `go mod download -json`
 * gives as Dir): one untouched, one with 30 ms of delay added to every
 * `list` that the RBAC authorizer of k8s.io/kubernetes itself decides (the
 * load user is authorized by RBAC; kube-controller-manager's admin credential
 * is not). `ab --baseline <release> --candidate source=<copy> --repeat 3`
 * with kube-controller-manager on both sides (the default) names the list
 * operation for the patched copy (exit 1) and finds nothing for the untouched
 * one (exit 0).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_VERSION } from '../../src/controlplane/paths.js';
import type { RunInfo } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

const VERSION = DEFAULT_SERVER_VERSION;
const RBAC = 'plugin/pkg/auth/authorizer/rbac/rbac.go';
const SCENARIO = `version: 1
name: patched-tree
seed: 13
generate:
  crds: { count: 2, groups: 1 }
  objects: { perCRD: 5, sizeBytes: 512, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
  - { name: get, op: get, consistency: quorum, concurrency: 2, repeat: 40 }
  - { name: list, op: list, consistency: cache, concurrency: 2, repeat: 40 }
cleanup: true
`;
// Wide thresholds: the machine is shared and noisy; the patch adds 30 ms to every list.
const THRESHOLDS = ['--threshold-p99', '50', '--p99-floor-ms', '10'];

let root: string;
let scenario: string;

async function copyModule(to: string): Promise<string> {
  const info = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${VERSION}`], { cwd: os.tmpdir(), encoding: 'utf8' })) as { Dir: string };
  // Named like the module cache's folder, so the tree's version is found from its name.
  const dir = path.join(to, `kubernetes@${VERSION}`);
  await mkdir(to, { recursive: true });
  execFileSync('cp', ['-r', info.Dir, dir]);
  execFileSync('chmod', ['-R', 'u+w', dir]);
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'asa-patched-'));
  scenario = path.join(root, 'scenario.yaml');
  await writeFile(scenario, SCENARIO);
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function ab(tree: string, name: string): Promise<{ code: number | null; stdout: string; candidate: RunInfo }> {
  const out = path.join(root, name);
  const res = await runCli(['ab', scenario, '--baseline', VERSION, '--candidate', `source=${tree}`, '--repeat', '3', '--out', out, ...THRESHOLDS]);
  process.stderr.write(res.stderr.split('\n').filter((l) => /built|compiling|repetition|REGRESSION|No regression/.test(l)).join('\n') + '\n');
  const candidate = JSON.parse(await readFile(path.join(out, 'candidate', 'rep-01', 'run.json'), 'utf8')) as RunInfo;
  return { code: res.code, stdout: res.stdout + res.stderr.slice(-3000), candidate };
}

describe('source= a patched k8s.io/kubernetes tree', () => {
  it('the patched copy regresses on list (exit 1)', { timeout: 3_600_000 }, async () => {
    const tree = await copyModule(path.join(root, 'patched'));
    const file = path.join(tree, RBAC);
    const text = await readFile(file, 'utf8');
    const patched = text
      .replace('\t"fmt"\n', '\t"fmt"\n\t"time"\n')
      .replace(
        /(func \(r \*RBACAuthorizer\) Authorize\(ctx context\.Context, requestAttributes authorizer\.Attributes\) \(authorizer\.Decision, string, error\) \{\n)/,
        '$1\tif requestAttributes.GetVerb() == "list" {\n\t\ttime.Sleep(30 * time.Millisecond) // asa-bench test patch\n\t}\n',
      );
    expect(patched).toContain('asa-bench test patch');
    await writeFile(file, patched);
    const res = await ab(tree, 'ab-patched');
    expect(res.code, res.stdout).toBe(1);
    expect(res.stdout).toMatch(/list\s+list\.cache.*REGRESSION/);
    expect(res.stdout).not.toMatch(/get\s+get\.quorum.*REGRESSION/);
    expect(res.stdout).toMatch(/source=kubernetes@v\d+\.\d+\.\d+ \(patched, [0-9a-f]{8}\)/);
    expect(res.candidate.server).toMatchObject({ kind: 'source', controllers: 'kcm', source: { layout: 'module', versionFrom: 'folder name', patched: true } });
    expect(res.candidate.target.version.gitVersion).toMatch(new RegExp(`^${VERSION.replace(/\./g, '\\.')}\\+src\\.[0-9a-f]{8}$`));
  });

  it('the untouched copy does not (exit 0)', { timeout: 3_600_000 }, async () => {
    const tree = await copyModule(path.join(root, 'unpatched'));
    const res = await ab(tree, 'ab-unpatched');
    expect(res.code, res.stdout).toBe(0);
    expect(res.stdout).toMatch(/No regression/);
    expect(res.stdout).toMatch(/source=kubernetes@v\d+\.\d+\.\d+ \(unpatched, [0-9a-f]{8}\)/);
    expect(res.candidate.server).toMatchObject({ kind: 'source', source: { patched: false } });
  });
});
