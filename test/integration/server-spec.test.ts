/**
 * The server spec on real control planes this file starts itself:
 * - the module hash of a source tree is Go's own (equal to go.sum's line);
 * - controllers=kcm (the default) runs kube-controller-manager, whose
 *   namespace controller deletes namespaces the normal way, while on the bare
 *   server (controllers=none) a deleted namespace stays Terminating;
 * - `run` records the spec as given and resolved, and every part it started
 *   (etcd, kube-apiserver, kube-controller-manager) is gone afterwards: on
 *   success, on Ctrl-C, and when a part fails to start;
 * - a spec that cannot be honoured is refused before anything starts.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { moduleSum } from '../../src/controlplane/build.js';
import { ensureServer } from '../../src/controlplane/build-server.js';
import { resolveServerSpec } from '../../src/controlplane/resolve.js';
import { parseServerSpec } from '../../src/controlplane/spec.js';
import { dirhash1, sha256File } from '../../src/controlplane/tree.js';
import { startControlPlane, type RunningControlPlane } from '../../src/controlplane/up.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import type { RunInfo } from '../../src/types/results.js';
import { ROOT, runCli } from '../helpers/cli.js';

const SMALL = `version: 1
name: spec-small
seed: 5
generate:
  crds: { count: 2, groups: 1 }
  objects: { perCRD: 4, sizeBytes: 256, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
  - { name: list, op: list, consistency: cache, concurrency: 2, repeat: 10 }
cleanup: true
`;

const LONG = SMALL.replace('name: spec-small', 'name: spec-long').replace('repeat: 10', 'duration: 120s');

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'asa-spec-'));
  await writeFile(path.join(root, 'small.yaml'), SMALL);
  await writeFile(path.join(root, 'long.yaml'), LONG);
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Processes whose command line mentions `dir` (the control plane's data folder is in every part's flags). */
async function processesUsing(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) found.push(`${pid} ${cmdline.split('\0')[0]}`);
  }
  return found;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Data folder and ports of the control plane a CLI run started, from its progress lines. */
function partsOf(stderr: string): { dir: string; ports: number[] } {
  const dir = /starting etcd on http:\/\/127\.0\.0\.1:(\d+) \(data ([^)]+)\)/.exec(stderr);
  expect(dir, stderr.slice(-2000)).not.toBeNull();
  const ports = [Number(dir![1])];
  for (const m of stderr.matchAll(/(?:starting kube-apiserver \S+ on |starting kube-controller-manager \()https:\/\/127\.0\.0\.1:(\d+)/g)) ports.push(Number(m[1]));
  return { dir: dir![2]!, ports };
}

async function expectAllStopped(stderr: string, expectedParts: number): Promise<void> {
  const { dir, ports } = partsOf(stderr);
  expect(ports.length, `ports of the parts started: ${ports.join(', ')}`).toBe(expectedParts);
  expect(await processesUsing(dir)).toEqual([]);
  for (const port of ports) expect(await listening(port), `port ${port} still listening`).toBe(false);
  expect(existsSync(dir), `${dir} removed`).toBe(false);
}

describe('source tree hashing', () => {
  it('hashes an untouched k8s.io/kubernetes module to the go.sum hash the proxy publishes', { timeout: 120_000 }, async () => {
    const version = inject('serverVersion');
    const info = JSON.parse(await new Promise<string>((resolve, reject) => {
      const child = spawn('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], { cwd: os.tmpdir() });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    })) as { Dir: string };
    const started = performance.now();
    const hash = await dirhash1(info.Dir, `k8s.io/kubernetes@${version}`);
    process.stderr.write(`[server-spec] dirhash h1 of k8s.io/kubernetes@${version}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    expect(hash).toBe(await moduleSum(version));
  });
});

describe('controllers', () => {
  let cp: RunningControlPlane | undefined;
  afterAll(async () => {
    await cp?.stop();
  });

  async function adminClient(kubeconfig: string): Promise<KubeClient> {
    return new KubeClient(await connectionFromKubeconfig({ kubeconfig, context: 'asa-bench-local-admin' }), { connections: 2 });
  }

  async function namespaceGoneWithin(client: KubeClient, name: string, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      const res = await client.send({ method: 'GET', path: `/api/v1/namespaces/${name}` });
      if (res.status === 404) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }

  async function createAndDeleteNamespace(client: KubeClient, name: string): Promise<void> {
    const create = await client.send({ method: 'POST', path: '/api/v1/namespaces', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) });
    expect(create.status).toBe(201);
    // A ConfigMap inside, so the namespace has content to delete.
    const cm = await client.send({ method: 'POST', path: `/api/v1/namespaces/${name}/configmaps`, body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } }) });
    expect(cm.status).toBe(201);
    expect((await client.send({ method: 'DELETE', path: `/api/v1/namespaces/${name}` })).status).toBe(200);
  }

  it('kcm (the default): a deleted namespace is emptied and removed by the namespace controller', { timeout: 300_000 }, async () => {
    const resolved = await resolveServerSpec(parseServerSpec(inject('serverVersion')));
    expect(resolved.spec.controllers).toBe('kcm');
    const bins = await ensureServer(resolved, (m) => process.stderr.write(`[server-spec] ${m}\n`));
    expect(bins.kubeControllerManager).toBeDefined();
    cp = await startControlPlane(bins, (m) => process.stderr.write(`[server-spec] ${m}\n`));
    expect(cp.controllerManagerPid).toBeGreaterThan(0);
    const client = await adminClient(cp.kubeconfig);
    try {
      await createAndDeleteNamespace(client, 'spec-kcm');
      expect(await namespaceGoneWithin(client, 'spec-kcm', 60_000)).toBe(true);
    } finally {
      await client.close();
    }
    const kcmPid = cp.controllerManagerPid!;
    await cp.stop();
    cp = undefined;
    expect(() => process.kill(kcmPid, 0)).toThrow();
  });

  it('none (the shared bare server): the same namespace stays Terminating', { timeout: 120_000 }, async () => {
    const client = await adminClient(inject('kubeconfig'));
    try {
      await createAndDeleteNamespace(client, 'spec-bare');
      expect(await namespaceGoneWithin(client, 'spec-bare', 10_000)).toBe(false);
      const ns = await client.getJson<{ status: { phase: string } }>('/api/v1/namespaces/spec-bare');
      expect(ns.status.phase).toBe('Terminating');
      // Finalize it by hand, as asa-bench does on a bare server, so the shared server stays clean.
      await client.send({ method: 'PUT', path: '/api/v1/namespaces/spec-bare/finalize', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'spec-bare' }, spec: { finalizers: [] } }) });
      expect(await namespaceGoneWithin(client, 'spec-bare', 30_000)).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe('asa-bench run --server', () => {
  /**
   * `server up SPEC`, a run on it (reused: same spec), `server down`. A run's own control plane
   * is deleted whole, so deleting objects one by one happens on a persistent one, as here.
   */
  async function upRunDown(name: string, spec: string[]): Promise<{ run: RunInfo; up: string; status: string; runErr: string; report: string }> {
    const up = await runCli(['server', 'up', ...spec]);
    expect(up.code, up.stderr.slice(-3000)).toBe(0);
    try {
      const status = await runCli(['server', 'status']);
      const out = path.join(root, name);
      const res = await runCli(['run', path.join(root, 'small.yaml'), '--out', out, ...spec]);
      expect(res.code, res.stderr.slice(-3000)).toBe(0);
      expect(res.stderr).toContain('using the running local control plane');
      const run = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as RunInfo;
      return { run, up: up.stdout + up.stderr, status: status.stdout, runErr: res.stderr, report: await readFile(path.join(out, 'report.md'), 'utf8') };
    } finally {
      const down = await runCli(['server', 'down']);
      expect(down.code, down.stderr).toBe(0);
      await expectAllStopped(up.stderr, spec.some((a) => a.includes('controllers=none')) ? 2 : 3);
    }
  }

  it('default spec: records it, runs kube-controller-manager, cleanup deletes namespaces the normal way, every part stops', { timeout: 600_000 }, async () => {
    const version = inject('serverVersion');
    const { run, up, status, runErr, report } = await upRunDown('default', []);
    expect(up).toContain('(with kube-controller-manager)');
    expect(status).toContain(`running: ${version}`);
    expect(run.server).toMatchObject({ given: version, spec: version, label: version, kind: 'version', version, controllers: 'kcm', args: [], buildKey: version });
    expect(run.server!.kubeApiserver.sha256).toBe(await sha256File(run.server!.kubeApiserver.path));
    expect(run.server!.kubeControllerManager!.sha256).toBe(await sha256File(run.server!.kubeControllerManager!.path));
    expect(run.cleanup).toMatchObject({ leftover: 0 });
    // Deleted the normal way: kube-controller-manager's namespace controller removed them; asa-bench did not finalize.
    expect(runErr).toContain('deleting 2 namespaces');
    expect(runErr).not.toContain('by hand');
    expect(report).toContain('**Controllers:** kube-controller-manager beside the API server');
    expect(report).toContain(`**Server spec:** ${version} → ${version}`);
  });

  it('controllers=none and arg=: the bare server with the flag, recorded; namespaces finalized by hand', { timeout: 600_000 }, async () => {
    const spec = `${inject('serverVersion')},controllers=none,arg=--max-requests-inflight=123`;
    const { run, up, runErr, report } = await upRunDown('bare', ['--server', spec]);
    expect(up).not.toContain('kube-controller-manager');
    expect(run.server).toMatchObject({ controllers: 'none', args: ['--max-requests-inflight=123'], label: spec });
    expect(run.server!.kubeControllerManager).toBeUndefined();
    expect(run.cleanup).toMatchObject({ leftover: 0 });
    expect(runErr).toContain('finalizing 2 namespaces by hand');
    expect(report).toContain('**Controllers:** none: the bare API server');
  });

  it('a run with its own control plane: recorded, and every part stops when it ends', { timeout: 300_000 }, async () => {
    const out = path.join(root, 'own');
    const res = await runCli(['run', path.join(root, 'small.yaml'), '--out', out]);
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    const run = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as RunInfo;
    expect(run.server).toMatchObject({ controllers: 'kcm' });
    await expectAllStopped(res.stderr, 3);
  });

  it('Ctrl-C: the run stops, and etcd, kube-apiserver and kube-controller-manager stop with it', { timeout: 600_000 }, async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/asa-bench.js'), 'run', path.join(root, 'long.yaml'), '--out', path.join(root, 'interrupted')], { cwd: ROOT });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the long phase never started:\n${stderr.slice(-2000)}`)), 400_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/▸ list/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const { dir } = partsOf(stderr);
    expect((await processesUsing(dir)).length, 'etcd, kube-apiserver and kube-controller-manager run').toBe(3);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    await expectAllStopped(stderr, 3);
  });

  it('a part that fails to start: one clear error (exit 5), and what had started is stopped', { timeout: 300_000 }, async () => {
    const res = await runCli(['run', path.join(root, 'small.yaml'), '--out', path.join(root, 'broken'), '--server', `${inject('serverVersion')},arg=--no-such-flag=1`]);
    expect(res.code, res.stderr.slice(-2000)).toBe(5);
    expect(res.stderr).toMatch(/kube-apiserver exited .*unknown flag: --no-such-flag/s);
    expect(res.stderr).not.toMatch(/internal error|\n\s+at /);
    const { dir } = partsOf(res.stderr);
    expect(await processesUsing(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a spec that cannot be honoured before anything starts (exit 2)', async () => {
    for (const [spec, message] of [
      ['v1.37.2,controllers=some', 'controllers=some: expected kcm or none'],
      ['v1.37.2,colour=red', 'unknown key "colour"'],
      [`source=${root}`, 'no cmd/kube-apiserver'],
      [`binary=${path.join(root, 'small.yaml')}`, 'not executable'],
    ] as const) {
      const res = await runCli(['run', path.join(root, 'small.yaml'), '--server', spec]);
      expect(res.code, spec).toBe(2);
      expect(res.stderr).toContain(message);
      expect(res.stderr).not.toContain('starting etcd');
    }
  });
});
