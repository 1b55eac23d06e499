/**
 * Resolving specs against the file system: what a source tree is (checkout
 * or module copy), its version, a hash that changes exactly when its content
 * does, binaries that are checked and hashed, and the wrapper go.mod each
 * kind of tree builds with. Trees here are small stand-ins with the shape of
 * k8s.io/kubernetes; the real module is hashed in
 * test/integration/server-spec.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrapperGoMod } from '../../src/controlplane/build.js';
import { resolveServerSpec } from '../../src/controlplane/resolve.js';
import { parseServerSpec } from '../../src/controlplane/spec.js';
import { dirhash1, inspectTree, treeVersion } from '../../src/controlplane/tree.js';
import { UsageError } from '../../src/types/errors.js';

const GO_MOD = `module k8s.io/kubernetes

go 1.25.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/apimachinery v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
)
`;

let root: string;

async function fakeTree(dir: string, withStaging: boolean): Promise<string> {
  await mkdir(path.join(dir, 'cmd', 'kube-apiserver', 'app'), { recursive: true });
  await writeFile(path.join(dir, 'go.mod'), GO_MOD);
  await writeFile(path.join(dir, 'cmd', 'kube-apiserver', 'app', 'server.go'), 'package app\n');
  await mkdir(path.join(dir, 'staging'), { recursive: true });
  await writeFile(path.join(dir, 'staging', 'README.md'), 'staging\n');
  if (withStaging) {
    for (const m of ['api', 'apimachinery']) {
      await mkdir(path.join(dir, 'staging', 'src', 'k8s.io', m), { recursive: true });
      await writeFile(path.join(dir, 'staging', 'src', 'k8s.io', m, 'go.mod'), `module k8s.io/${m}\n`);
    }
  }
  return dir;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'asa-resolve-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('source= trees', () => {
  it('a git checkout with ./staging: version from git describe, hash follows the diff and untracked files', async () => {
    const dir = await fakeTree(path.join(root, 'checkout'), true);
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'v1.37.2');
    git(dir, 'tag', 'v1.37.2');
    const spec = parseServerSpec(`source=${dir},controllers=none`);
    const clean = await resolveServerSpec(spec);
    expect(clean.source).toMatchObject({ layout: 'checkout', versionFrom: 'git describe', git: { describe: 'v1.37.2', dirty: false } });
    expect(clean.source?.staging['k8s.io/api']).toBe(path.join(dir, 'staging/src/k8s.io/api'));
    expect(clean.version).toBe('v1.37.2');
    expect(clean.stampVersion).toMatch(/^v1\.37\.2\+src\.[0-9a-f]{8}$/);
    expect(clean.buildKey).toMatch(/^source-[0-9a-f]{16}$/);
    expect(clean.label).toMatch(/^source=checkout \(v1\.37\.2, [0-9a-f]{8}\),controllers=none$/);
    expect((await resolveServerSpec(spec)).buildKey, 'same content, same key').toBe(clean.buildKey);

    const file = path.join(dir, 'cmd', 'kube-apiserver', 'app', 'server.go');
    await writeFile(file, 'package app\n\n// patched\n');
    const patched = await resolveServerSpec(spec);
    expect(patched.buildKey).not.toBe(clean.buildKey);
    expect(patched.source?.git).toMatchObject({ describe: 'v1.37.2-dirty', dirty: true });
    expect(patched.label).toContain('(v1.37.2-dirty, patched, ');

    await writeFile(file, 'package app\n');
    await writeFile(path.join(dir, 'cmd', 'kube-apiserver', 'app', 'extra.go'), 'package app\n');
    const untracked = await resolveServerSpec(spec);
    expect(untracked.buildKey, 'an untracked file is content too').not.toBe(clean.buildKey);
    await rm(path.join(dir, 'cmd', 'kube-apiserver', 'app', 'extra.go'));
    expect((await resolveServerSpec(spec)).buildKey, 'back to the committed content').toBe(clean.buildKey);
  });

  it('a module copy without staging: version from the folder name or version=, else refused', async () => {
    const named = await fakeTree(path.join(root, 'kubernetes@v1.36.3'), false);
    expect((await inspectTree(named)).layout).toBe('module');
    expect(await treeVersion(named, 'module', undefined, undefined)).toEqual({ version: 'v1.36.3', from: 'folder name' });
    const plain = await fakeTree(path.join(root, 'copy'), false);
    await expect(treeVersion(plain, 'module', undefined, undefined)).rejects.toMatchObject({ message: expect.stringContaining('cannot tell which Kubernetes release'), hint: expect.stringContaining('version=v1.37.2') });
    expect(await treeVersion(plain, 'module', 'v1.37.2', undefined)).toEqual({ version: 'v1.37.2', from: 'version=' });
    await expect(resolveServerSpec(parseServerSpec(`source=${plain}`))).rejects.toBeInstanceOf(UsageError);
  });

  it('dirhash h1 changes with any file and is independent of where the tree lives', async () => {
    const a = await fakeTree(path.join(root, 'hash-a'), false);
    const b = await fakeTree(path.join(root, 'hash-b'), false);
    const ha = await dirhash1(a, 'k8s.io/kubernetes@v1.37.2');
    expect(ha).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
    expect(await dirhash1(b, 'k8s.io/kubernetes@v1.37.2')).toBe(ha);
    await writeFile(path.join(b, 'staging', 'README.md'), 'staging!\n');
    expect(await dirhash1(b, 'k8s.io/kubernetes@v1.37.2')).not.toBe(ha);
  });

  it('the per-file cache is reused only while size, mtime and inode are unchanged', async () => {
    const dir = await fakeTree(path.join(root, 'hash-cache'), false);
    const file = path.join(dir, 'staging', 'README.md');
    const past = new Date(Date.now() - 60_000);
    await utimes(file, past, past);
    const cacheFile = path.join(root, 'hash-cache.json');
    const first = await dirhash1(dir, 'k8s.io/kubernetes@v1.37.2', cacheFile);
    expect(await dirhash1(dir, 'k8s.io/kubernetes@v1.37.2')).toBe(first);
    // Same size, other bytes, another (past) mtime: read again.
    await writeFile(file, 'STAGING\n');
    const earlier = new Date(Date.now() - 120_000);
    await utimes(file, earlier, earlier);
    const changed = await dirhash1(dir, 'k8s.io/kubernetes@v1.37.2', cacheFile);
    expect(changed).not.toBe(first);
    expect(changed).toBe(await dirhash1(dir, 'k8s.io/kubernetes@v1.37.2'));
    // An unchanged file's cached sum is what is used (the cache is really consulted).
    const cache = JSON.parse(await readFile(cacheFile, 'utf8')) as { files: Record<string, [number, number, number, string]> };
    cache.files['staging/README.md']![3] = '0'.repeat(64);
    await writeFile(cacheFile, JSON.stringify({ ...cache, writtenAtMs: Date.now() }));
    expect(await dirhash1(dir, 'k8s.io/kubernetes@v1.37.2', cacheFile)).not.toBe(changed);
  });

  it('refuses what is not a k8s.io/kubernetes tree, before anything starts', async () => {
    await expect(resolveServerSpec(parseServerSpec(`source=${path.join(root, 'missing')}`))).rejects.toThrow(/no such folder/);
    const empty = path.join(root, 'empty');
    await mkdir(empty);
    await expect(resolveServerSpec(parseServerSpec(`source=${empty}`))).rejects.toThrow(/not a k8s\.io\/kubernetes tree \(no cmd\/kube-apiserver\)/);
    const other = await fakeTree(path.join(root, 'other'), false);
    await writeFile(path.join(other, 'go.mod'), 'module example.com/other\n');
    await expect(resolveServerSpec(parseServerSpec(`source=${other},version=v1.37.2`))).rejects.toThrow(/not that of module k8s\.io\/kubernetes/);
  });
});

describe('binary=', () => {
  async function script(name: string, body: string, mode = 0o755): Promise<string> {
    const file = path.join(root, name);
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, mode);
    return file;
  }

  it('takes the version the binary reports and its sha256', async () => {
    const file = await script('kas-ok', 'echo "Kubernetes v1.37.2"');
    const r = await resolveServerSpec(parseServerSpec(`binary=${file},arg=--watch-cache=false`));
    expect(r.binary?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.version).toBe('v1.37.2');
    expect(r.buildKey).toMatch(/^binary-[0-9a-f]{16}$/);
    expect(r.label).toBe(`binary=kas-ok (sha256 ${r.binary!.sha256.slice(0, 8)}),arg=--watch-cache=false`);
  });

  it('needs a release for kube-controller-manager when the binary reports none', async () => {
    const file = await script('kas-dev', 'echo "Kubernetes v0.0.0-master+$Format:%H$"');
    await expect(resolveServerSpec(parseServerSpec(`binary=${file}`))).rejects.toThrow(/release to build kube-controller-manager from is unknown/);
    expect((await resolveServerSpec(parseServerSpec(`binary=${file},version=v1.37.2`))).version).toBe('v1.37.2');
    expect((await resolveServerSpec(parseServerSpec(`binary=${file},controllers=none`))).spec.controllers).toBe('none');
  });

  it('refuses a missing or non-executable file', async () => {
    await expect(resolveServerSpec(parseServerSpec(`binary=${path.join(root, 'nope')}`))).rejects.toThrow(/no such file/);
    const file = await script('kas-noexec', 'echo "Kubernetes v1.37.2"', 0o644);
    await expect(resolveServerSpec(parseServerSpec(`binary=${file}`))).rejects.toThrow(/not executable/);
  });
});

describe('wrapperGoMod', () => {
  it('a release: staging modules at their published versions', () => {
    const mod = wrapperGoMod('v1.37.2', GO_MOD);
    expect(mod).toContain('require k8s.io/kubernetes v1.37.2');
    expect(mod).toContain('\tk8s.io/api => k8s.io/api v0.37.2');
    expect(mod).not.toContain('=> /');
  });

  it('a checkout: the tree and its ./staging folders; a module copy: the tree and published staging', () => {
    const checkout = wrapperGoMod(
      { key: 'source-x', version: 'v1.37.2', stampVersion: 'v1.37.2+src.x', tree: { dir: '/k8s', staging: { 'k8s.io/api': '/k8s/staging/src/k8s.io/api', 'k8s.io/apimachinery': '/k8s/staging/src/k8s.io/apimachinery' } } },
      GO_MOD,
      'kube-controller-manager',
    );
    expect(checkout).toContain('module asa-bench.local/kube-controller-manager');
    expect(checkout).toContain('\tk8s.io/kubernetes => /k8s');
    expect(checkout).toContain('\tk8s.io/api => /k8s/staging/src/k8s.io/api');
    // Required at the release (and replaced by the folders), so -trimpath names packages as the release build does.
    expect(checkout).toContain('require k8s.io/kubernetes v1.37.2');
    expect(checkout).toContain('\tk8s.io/api v0.37.2');
    const copy = wrapperGoMod({ key: 'source-y', version: 'v1.36.3', stampVersion: 'v1.36.3+src.y', tree: { dir: '/copy' } }, GO_MOD);
    expect(copy).toContain('\tk8s.io/kubernetes => /copy');
    expect(copy).toContain('require k8s.io/kubernetes v1.36.3');
    expect(copy).toContain('\tk8s.io/apimachinery => k8s.io/apimachinery v0.36.3');
  });
});
