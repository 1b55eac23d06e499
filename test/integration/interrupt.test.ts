import { runCli } from '../helpers/cli.js';
/**
 * Ctrl-C and SIGTERM during a run on the shared real control plane: the
 * first signal stops the load, keeps what was measured (run.json partial,
 * summary.json with the phases so far), cleans up and exits 130; a second
 * one skips cleanup, says how to clean up later, and `asa-bench cleanup
 * --run <id>` then removes everything. Ctrl-C during the first build of the
 * server (a real go build of etcd) stops the build and writes nothing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { countLeftovers } from '../../src/engine/cleanup.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The middle phase would run for a minute; the tests interrupt it.
const SCENARIO = `version: 1
name: interrupt
seed: 7
generate:
  crds: { count: 6, groups: 2 }
  objects: { perCRD: 5, sizeBytes: 256, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 6, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: list-long, op: list, concurrency: 2, duration: 60s }
  - { name: get, op: get, repeat: 20 }
cleanup: true
`;

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stderr matches. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/asa-bench.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 120_000) =>
    new Promise<void>((resolve, reject) => {
      if (pattern.test(stderr)) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} on stderr:\n${stderr}`)), timeoutMs);
      waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
      void exited.then(() => {
        if (!pattern.test(stderr)) {
          clearTimeout(timer);
          reject(new Error(`exited before ${pattern} appeared on stderr:\n${stderr}`));
        }
      });
    });
  return { child, stdout: () => stdout, stderr: () => stderr, waitFor, exited };
}


let tmp: string;
let scenarioFile: string;
let client: KubeClient;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-interrupt-'));
  scenarioFile = path.join(tmp, 'interrupt.yaml');
  await writeFile(scenarioFile, SCENARIO);
  client = new KubeClient(await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true }), { connections: 2 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Whatever a failed test left behind must not leak into the next file on the shared server.
  await runCli(['cleanup', '--all', '--kubeconfig', inject('kubeconfig')]);
  await client?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function readResults(dir: string): Promise<{ run: RunInfo; summary: RunSummary }> {
  const run = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunInfo;
  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
  return { run, summary };
}

/** Starts the scenario and resolves once the long phase is under way. */
async function startUntilLongPhase(out: string): Promise<Running> {
  const running = startCli(['run', scenarioFile, '--kubeconfig', inject('kubeconfig'), '--out', out]);
  children.push(running.child);
  await running.waitFor(/▸ list-long/);
  return running;
}

function runIdOf(stderr: string): string {
  const id = /run (\w{8}): will create/.exec(stderr)?.[1];
  expect(id, stderr).toBeDefined();
  return id!;
}

describe.each(['SIGINT', 'SIGTERM'] as const)('one %s during a run', (signal) => {
  it('stops, writes partial results, cleans up and exits 130 within seconds', async () => {
    const out = path.join(tmp, `once-${signal}`);
    const running = await startUntilLongPhase(out);
    const runId = runIdOf(running.stderr());
    // The objects the earlier phases created are really there before the signal.
    expect(await countLeftovers(client, runId)).toBeGreaterThan(0);

    const sentAt = performance.now();
    running.child.kill(signal);
    const { code, signal: killedBy, at } = await running.exited;
    const stderr = running.stderr();
    expect(killedBy, stderr).toBeNull();
    expect(code, stderr).toBe(130);
    // Interrupting ends the 60 s phase at once; cleanup of 6 CRDs takes a few seconds on a busy machine.
    expect(at - sentAt, stderr).toBeLessThan(20_000);

    expect(stderr).toContain(`${signal}: stopping; partial results will be written`);
    expect(stderr).toContain('press Ctrl-C again to skip cleanup');
    expect(stderr).toContain('cleaning up what this run created');
    expect(stderr).not.toMatch(/internal error|cleanup failed/);
    expect(stderr).not.toContain('asa-bench cleanup --run');

    const { run, summary } = await readResults(out);
    expect(run.runId).toBe(runId);
    expect(run.status).toBe('partial');
    expect(run.reason).toBe('interrupted');
    expect(run.endedAt).toBeDefined();
    expect(run.cleanup).toMatchObject({ leftover: 0 });
    expect(summary.runId).toBe(runId);
    const names = summary.phases.map((p) => p.phase);
    expect(names.slice(0, 2)).toEqual(['install', 'create']);
    expect(names).not.toContain('get');
    const create = summary.phases.find((p) => p.phase === 'create')!.ops.find((o) => o.op === 'create.objects');
    expect(create).toMatchObject({ count: 30, ok: 30, errors: {} });
    // The interrupted phase keeps what it measured, and it did not run its minute.
    const long = summary.phases.find((p) => p.phase === 'list-long');
    if (long) expect(long.durationMs).toBeLessThan(60_000);

    expect(await countLeftovers(client, runId)).toBe(0);
  });
});

describe('a second SIGINT', () => {
  it('skips cleanup, exits 130 and names the cleanup command, which then removes everything', async () => {
    const out = path.join(tmp, 'twice');
    const running = await startUntilLongPhase(out);
    const runId = runIdOf(running.stderr());

    const sentAt = performance.now();
    running.child.kill('SIGINT');
    await running.waitFor(/press Ctrl-C again/, 10_000);
    running.child.kill('SIGINT');
    const { code, at } = await running.exited;
    const stderr = running.stderr();
    expect(code, stderr).toBe(130);
    expect(at - sentAt, stderr).toBeLessThan(10_000);
    expect(stderr).toContain(`SIGINT again: skipping cleanup; remove leftovers later with: asa-bench cleanup --run ${runId}`);
    expect(stderr).not.toMatch(/internal error/);

    // What was written before the second signal is valid; the run is not recorded as complete.
    const { run, summary } = await readResults(out);
    expect(run.runId).toBe(runId);
    expect(run.status).toBe('partial');
    expect(summary.runId).toBe(runId);
    // The second signal only skips cleanup: the run still finishes writing its results,
    // including the interrupted phase.
    expect(run.reason).toBe('interrupted');
    expect(summary.phases.map((p) => p.phase)).toEqual(['install', 'create', 'list-long']);

    // Cleanup really was skipped: the run's CRDs and namespaces are still there.
    expect(await countLeftovers(client, runId)).toBeGreaterThan(0);

    const cleanup = await runCli(['cleanup', '--run', runId, '--kubeconfig', inject('kubeconfig')]);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    // (6 CRDs unless the first signal's cleanup had already finished deleting some of them.)
    expect(cleanup.stdout).toMatch(/deleted [0-6] CRDs and 2 namespaces; 0 labelled objects remain/);
    expect(await countLeftovers(client, runId)).toBe(0);
  });
});

describe('a third signal on the run\'s own control plane', () => {
  it('exits at once and still stops its etcd, kube-apiserver and kube-controller-manager and deletes their data folder', async () => {
    // No --kubeconfig: the run starts (and must stop) its own control plane.
    const running = startCli(['run', scenarioFile, '--out', path.join(tmp, 'thrice')]);
    children.push(running.child);
    await running.waitFor(/▸ list-long/, 240_000);
    const dir = /kubeconfig (\S+)\/kubeconfig/.exec(running.stderr())?.[1];
    expect(dir, running.stderr()).toBeDefined();
    expect(existsSync(dir!)).toBe(true);
    const pids = processesUsing(dir!);
    expect(pids.length, 'etcd, kube-apiserver and kube-controller-manager (the default spec) run with the data folder in their arguments').toBe(3);

    running.child.kill('SIGINT');
    await running.waitFor(/press Ctrl-C again/, 10_000);
    // Two signals of one kind sent at once merge into one; the handler counts SIGTERM alike.
    running.child.kill('SIGTERM');
    running.child.kill('SIGINT');
    const { code } = await running.exited;
    const stderr = running.stderr();
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIG(INT|TERM) a third time: exiting now; the run's own control plane is killed and its data deleted/);
    // SIGKILL is delivered at once; give the kernel a moment to reap.
    await new Promise((r) => setTimeout(r, 500));
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(dir!)).toBe(false);
  });
});

/** Pids whose command line mentions `dir` (the control plane's data and cert folder). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat); // a zombie is dead, waiting to be reaped
  } catch {
    return false;
  }
}
describe('a run that re-executes itself with heap flags (run --heap auto, same pid)', () => {
  it('carries the flags into run.json and still stops on SIGINT with partial results', async () => {
    // 100 watchers make the plan big enough to be sized (src/cli/heap.ts).
    const file = path.join(tmp, 'interrupt-heap.yaml');
    await writeFile(file, `${SCENARIO.trimEnd().replace(/\ncleanup: true$/, '')}\n  - { name: watch, op: watch, watchers: 100, during: list-long }\ncleanup: true\n`);
    const out = path.join(tmp, 'heap-sigint');
    const running = startCli(['run', file, '--kubeconfig', inject('kubeconfig'), '--out', out]);
    children.push(running.child);
    await running.waitFor(/▸ list-long/);
    expect(running.stderr()).toMatch(/heap: --max-semi-space-size=1 --heap-growing-percent=50 \(peak \d+ requests\/s offered, 100 watchers\)/);
    running.child.kill('SIGINT');
    const { code, signal } = await running.exited;
    expect(signal, running.stderr()).toBeNull();
    expect(code, running.stderr()).toBe(130);
    const { run } = await readResults(out);
    expect(run.status).toBe('partial');
    expect(String(run.flags.heap)).toContain('--max-semi-space-size=1');
    expect(run.cleanup).toMatchObject({ leftover: 0 });
  });
});

/** Processes (other than `except`) whose environment holds GOCACHE=<gocache>: go and what it started. */
function goProcesses(gocache: string, except: number): { pid: number; comm: string }[] {
  const found: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === except || !isAlive(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`GOCACHE=${gocache}`)) continue;
      found.push({ pid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => path.join(e.parentPath, e.name));
}

describe('Ctrl-C during the first build of the server', () => {
  // Every command that builds a server: `run`, `server up` and `ab` (both sides are built before any repetition).
  const commands = [
    { name: 'run', args: (home: string) => ['run', 'scenarios/smoke.yaml', '--out', path.join(home, 'out')], says: 'SIGINT: stopping before the run started: a server build under way is stopped, nothing is written' },
    { name: 'server up', args: () => ['server', 'up'], says: 'SIGINT: stopping the build; nothing is started' },
    { name: 'ab', args: (home: string) => ['ab', 'scenarios/smoke.yaml', '--baseline', 'v1.37.2', '--candidate', 'v1.37.2,arg=--watch-cache=false', '--out', path.join(home, 'out')], says: 'SIGINT: stopping the build; nothing is written' },
  ];
  it.each(commands)("$name: kills the go build's process group, writes nothing to the cache and exits 130", { timeout: 240_000 }, async ({ args, says }) => {
    // A fresh asa home: etcd is not built there. A fresh GOCACHE: the build compiles for minutes
    // (GOMAXPROCS=1: one compile at a time, to spare the shared machine). Modules come from the usual module cache.
    const home = await mkdtemp(path.join(os.tmpdir(), 'asa-build-home-'));
    const gocache = await mkdtemp(path.join(os.tmpdir(), 'asa-build-gocache-'));
    try {
      const running = startCli(args(home), { ASA_BENCH_HOME: home, GOCACHE: gocache, GOMAXPROCS: '1' });
      children.push(running.child);
      // The build says it is still compiling (every 5 s); then Ctrl-C.
      await running.waitFor(/building etcd v3\.6\.16: 5 s so far \(go build\)/, 120_000);
      const building = goProcesses(gocache, running.child.pid!);
      expect(building.map((p) => p.comm), running.stderr()).toContain('go');
      running.child.kill('SIGINT');
      const { code, signal } = await running.exited;
      expect(signal, running.stderr()).toBeNull();
      expect(code, running.stderr()).toBe(130);
      const stderr = running.stderr();
      expect(stderr).toContain(says);
      expect(stderr).toContain(`asa-bench: the build of etcd v3.6.16 was stopped; nothing was written to ${path.join(home, 'bin', 'etcd-v3.6.16')}\n`);
      expect(stderr).not.toContain('partial results');
      // The whole group is gone when the CLI has exited: go and every compile/link it started
      // (killing go alone leaves a running compile behind for seconds).
      expect(goProcesses(gocache, running.child.pid!)).toEqual([]);
      // Nothing at the cache path (no binary, no temporary file, no lock), no results folder, no server state.
      expect(filesUnder(path.join(home, 'bin'))).toEqual([]);
      expect(existsSync(path.join(home, 'bin', 'etcd-v3.6.16', 'etcd'))).toBe(false);
      expect(existsSync(path.join(home, 'locks', 'etcd-v3.6.16.lock'))).toBe(false);
      expect(existsSync(path.join(home, 'out'))).toBe(false);
      expect(filesUnder(home).filter((f) => !f.startsWith(path.join(home, 'locks')))).toEqual([]);
    } finally {
      await rm(home, { recursive: true, force: true });
      await rm(gocache, { recursive: true, force: true });
    }
  });
});
