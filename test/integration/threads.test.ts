/**
 * `run --threads N` against the shared real control plane: scenarios/smoke.yaml
 * unthreaded, then with 2 worker threads. The threaded result must have the
 * unthreaded request counts and histogram totals for every operation whose
 * count the scenario fixes, histograms holding both threads' samples (the
 * per-thread rows of intervals.csv add up to them), server figures scraped
 * once by the main thread, each thread's run id in run.json with nothing of
 * it left on the server, and `report` must read the folder. Also: the thread
 * orchestration run in process from the TypeScript sources (the worker entry
 * resolves to the compiled dist/), Ctrl-C with threads, and a split that
 * cannot be made.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { countLeftovers } from '../../src/engine/cleanup.js';
import { runThreads, workerEntryUrl, type ThreadsEvent } from '../../src/engine/threads.js';
import { newRunId } from '../../src/generators/run-id.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import { decodeHistogram } from '../../src/metrics/histogram.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { ROOT, runCli } from '../helpers/cli.js';

/** Ops whose count depends on timing or server state, not on the scenario alone (as in shards.test.ts). */
const VARIABLE = /^(watch\.(events\.|event-latency|bookmark|established|reconnect|relist)|discovery\.legacy\.|list\.pages|transport\.|throttled\.|cancelled)/;

let tmp: string;
let client: KubeClient;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-threads-'));
  client = new KubeClient(await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true }), { connections: 2 });
});

afterAll(async () => {
  // Whatever a failed test left behind must not leak into the next file on the shared server.
  await runCli(['cleanup', '--all', '--kubeconfig', inject('kubeconfig')]);
  await client?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function read(dir: string): Promise<{ run: RunInfo; summary: RunSummary; intervals: string[][] }> {
  return {
    run: JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunInfo,
    summary: JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary,
    intervals: (await readFile(path.join(dir, 'intervals.csv'), 'utf8')).trim().split('\n').map((l) => l.split(',')),
  };
}

const fixed = (summary: RunSummary) => {
  const m = new Map<string, { count: number; samples: number }>();
  for (const p of summary.phases) for (const o of p.ops) if (!VARIABLE.test(o.op)) m.set(`${p.step}/${p.phase}/${o.op}`, { count: o.count, samples: decodeHistogram(o.histogram).totalCount });
  return Object.fromEntries(m);
};

describe('asa-bench run --threads 2', () => {
  it('smoke with 2 threads has the unthreaded counts and histogram totals, one server view, and leaves nothing behind', { timeout: 600_000 }, async () => {
    const kubeconfig = inject('kubeconfig');
    const whole = path.join(tmp, 'whole');
    const single = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kubeconfig, '--out', whole]);
    expect(single.stderr).not.toMatch(/internal error/);
    expect(single.code, single.stderr).toBe(0);

    const dir = path.join(tmp, 'threads');
    const threaded = await runCli(['run', 'scenarios/smoke.yaml', '--threads', '2', '--kubeconfig', kubeconfig, '--out', dir]);
    expect(threaded.stderr).not.toMatch(/internal error|crashed/);
    // 0 = complete; 1 = an SLO missed on a busy machine: a finished run either way.
    expect([0, 1], threaded.stderr).toContain(threaded.code);
    expect(threaded.stderr).toContain('2 load threads, one run id each');

    const w = await read(whole);
    const t = await read(dir);
    expect(w.run.flags.threads).toBe(1);
    expect(w.run.threads).toBeUndefined();
    expect(t.run.status).toBe('complete');
    expect(t.run.flags.threads).toBe(2);
    expect(t.run.threads).toHaveLength(2);
    const ids = t.run.threads!.map((x) => x.runId);
    expect(new Set(ids).size).toBe(2);
    expect(t.run.runId).toBe(ids.join('+'));
    for (const x of t.run.threads!) expect(x).toMatchObject({ status: 'complete', cleanup: { leftover: 0 } });
    expect(t.run.cleanup?.leftover).toBe(0);

    // Every op with a fixed count: the same count, and the same number of samples in its histogram.
    const expected = fixed(w.summary);
    expect(expected['0/install/create.crds']).toEqual({ count: 20, samples: 20 });
    expect(expected['0/get/get.quorum']).toEqual({ count: 100, samples: 100 });
    expect(fixed(t.summary)).toEqual(expected);
    for (const p of t.summary.phases) {
      expect(p.level, p.phase).toBe(20);
      expect(p.crds, p.phase).toBe(20);
    }

    // intervals.csv: one row per thread and second; both threads measured every latency op,
    // and their rows add up to the merged count (= the merged histogram's samples when nothing failed).
    const header = t.intervals[0]!;
    expect(header.at(-1)).toBe('thread');
    const col = (name: string) => header.indexOf(name);
    const rows = t.intervals.slice(1);
    expect(new Set(rows.map((r) => r[col('thread')]))).toEqual(new Set(['1', '2']));
    for (const p of t.summary.phases) {
      for (const o of p.ops) {
        const samples = decodeHistogram(o.histogram).totalCount;
        if (samples === 0) continue;
        const mine = rows.filter((r) => r[col('phase')] === p.phase && r[col('op')] === o.op);
        const byThread = (k: string) => mine.filter((r) => r[col('thread')] === k).reduce((a, r) => a + Number(r[col('count')]), 0);
        expect(byThread('1') + byThread('2'), `${p.phase}/${o.op}`).toBe(o.count);
        if (Object.keys(o.errors).length === 0) expect(samples, `${p.phase}/${o.op}`).toBe(o.ok);
        if (!VARIABLE.test(o.op)) {
          expect(byThread('1'), `${p.phase}/${o.op} thread 1`).toBeGreaterThan(0);
          expect(byThread('2'), `${p.phase}/${o.op} thread 2`).toBeGreaterThan(0);
        }
      }
    }

    // The main thread scraped /metrics: every phase has server figures, and the run a series.
    for (const p of t.summary.phases) expect(p.server, p.phase).toBeDefined();
    expect(t.summary.serverSeries?.length).toBeGreaterThan(0);
    // Each thread measured its own loop; the merged phase keeps the figures.
    for (const p of t.summary.phases) {
      expect(p.harness.eventLoopUtilization, p.phase).toBeGreaterThan(0);
      expect(p.harness.eventLoopWaitMs, p.phase).toBeGreaterThanOrEqual(0);
    }

    // Nothing of either thread is left on the server.
    for (const id of ids) expect(await countLeftovers(client, id)).toBe(0);

    const report = await runCli(['report', dir]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('create.crds');
    expect(report.stdout).toContain(`run ${t.run.runId}`);
    const md = await runCli(['report', dir, '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain('# asa-bench: smoke');
  });

  it('runs from the TypeScript sources too: the worker entry resolves to the compiled dist/', { timeout: 300_000 }, async () => {
    expect(fileURLToPath(workerEntryUrl())).toBe(path.join(ROOT, 'dist/engine/thread-worker.js'));
    const scenario = parseScenario(
      `version: 1
name: threads-in-process
seed: 3
generate:
  crds: { count: 4, groups: 2 }
  objects: { perCRD: 3, sizeBytes: 256, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
  - { name: get, op: get, concurrency: 2, repeat: 30 }
cleanup: true
`,
      'threads-in-process.yaml',
    );
    const connection = await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true });
    const events: ThreadsEvent[] = [];
    const runIds = [newRunId(), newRunId(), newRunId()];
    const result = await runThreads({
      scenario,
      runIds,
      connection,
      client,
      clientOptions: { connections: 6 },
      local: true,
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
      progressIntervalMs: 200,
    });
    expect(result.status, JSON.stringify(result.threads)).toBe('complete');
    expect(result.threads.map((x) => x.runId)).toEqual(runIds);
    const op = (phase: string, key: string) => result.phases.find((p) => p.phase === phase)?.ops.find((o) => o.op === key);
    expect(op('install', 'create.crds')).toMatchObject({ count: 4, ok: 4 });
    expect(op('create', 'create.objects')).toMatchObject({ count: 12, ok: 12 });
    expect(op('get', 'get.quorum')).toMatchObject({ count: 30, ok: 30 });
    expect(decodeHistogram(op('get', 'get.quorum')!.histogram).totalCount).toBe(30);
    // One merged phase-end per phase, in order; interval rows from all three threads.
    expect(events.filter((e) => e.type === 'phase-end').map((e) => (e.type === 'phase-end' ? e.result.phase : ''))).toEqual(['install', 'create', 'get']);
    expect(events.filter((e) => e.type === 'phase-start').map((e) => (e.type === 'phase-start' ? `${e.phase}:${e.total}` : ''))).toEqual(['install:4', 'create:12', 'get:30']);
    expect(new Set(events.flatMap((e) => (e.type === 'interval' ? [e.thread] : [])))).toEqual(new Set([1, 2, 3]));
    expect(result.cleanup).toMatchObject({ leftover: 0 });
    for (const id of runIds) expect(await countLeftovers(client, id)).toBe(0);
  });

  it('a thread that crashes stops the others; the main thread cleans up after it', { timeout: 300_000 }, async () => {
    // The real worker, plus an uncaught error in thread 2 once its phases are under way.
    const crashing = path.join(tmp, 'crashing-worker.mjs');
    await writeFile(
      crashing,
      `import { workerData } from 'node:worker_threads';
if (workerData.index === 2) setTimeout(() => { throw new Error('boom in thread 2'); }, 4000);
await import(${JSON.stringify(workerEntryUrl().href)});
`,
    );
    const scenario = parseScenario(
      `version: 1
name: threads-crash
seed: 9
generate:
  crds: { count: 4, groups: 2 }
  objects: { perCRD: 2, sizeBytes: 256, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
  - { name: list-long, op: list, concurrency: 1, duration: 60s }
cleanup: true
`,
      'threads-crash.yaml',
    );
    const runIds = [newRunId(), newRunId()];
    const messages: string[] = [];
    const started = performance.now();
    const result = await runThreads({
      scenario,
      runIds,
      connection: await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true }),
      client,
      clientOptions: { connections: 2 },
      local: true,
      signal: new AbortController().signal,
      onEvent: (e) => void (e.type === 'message' && messages.push(e.message)),
      workerUrl: pathToFileURL(crashing),
    });
    expect(performance.now() - started, messages.join('\n')).toBeLessThan(50_000);
    expect(result.status).toBe('failed');
    expect(result.threads[1]).toMatchObject({ index: 2, status: 'failed', reason: expect.stringContaining('boom in thread 2') });
    expect(result.threads[0]).toMatchObject({ index: 1, status: 'partial', reason: 'stopped: thread 2/2 crashed' });
    expect(result.reason).toContain('thread 2/2: crashed');
    expect(messages).toContain(`cleaning up what thread 2/2 (run ${runIds[1]}) created`);
    expect(result.phases.map((p) => p.phase)).toContain('install');
    for (const id of runIds) expect(await countLeftovers(client, id)).toBe(0);
  });

  it('Ctrl-C stops every thread, keeps what they measured, cleans up and exits 130', { timeout: 300_000 }, async () => {
    const file = path.join(tmp, 'long.yaml');
    await writeFile(
      file,
      `version: 1
name: threads-interrupt
seed: 7
generate:
  crds: { count: 6, groups: 2 }
  objects: { perCRD: 4, sizeBytes: 256, namespaces: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 4, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: list-long, op: list, concurrency: 2, duration: 60s }
  - { name: get, op: get, repeat: 20 }
cleanup: true
`,
    );
    const out = path.join(tmp, 'interrupted');
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/asa-bench.js'), 'run', file, '--threads', '2', '--kubeconfig', inject('kubeconfig'), '--out', out], { cwd: ROOT });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`list-long never started:\n${stderr}`)), 120_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/▸ list-long/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`exited before list-long:\n${stderr}`)));
    });
    const ids = /one run id each \((\w{8}), (\w{8})\)/.exec(stderr)!.slice(1);
    expect(ids).toHaveLength(2);
    // Both threads' objects are on the server before the signal.
    for (const id of ids) expect(await countLeftovers(client, id)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000));
    const sentAt = performance.now();
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(130);
    expect(performance.now() - sentAt, stderr).toBeLessThan(30_000);
    expect(stderr).not.toMatch(/internal error|crashed|cleanup failed/);
    expect(stderr).toContain('thread 1/2: cleaning up what this run created');
    expect(stderr).toContain('thread 2/2: cleaning up what this run created');

    const r = await read(out);
    expect(r.run.status).toBe('partial');
    expect(r.run.reason).toBe('interrupted');
    expect(r.run.threads?.map((x) => x.status)).toEqual(['partial', 'partial']);
    expect(r.summary.phases.map((p) => p.phase)).toEqual(['install', 'create', 'list-long']);
    const list = r.summary.phases.find((p) => p.phase === 'list-long')!;
    expect(list.durationMs).toBeLessThan(30_000);
    expect(list.ops.find((o) => o.op === 'list.quorum' || o.op === 'list.cache')?.count).toBeGreaterThan(0);
    for (const id of ids) expect(await countLeftovers(client, id)).toBe(0);
  });

  it('refuses a split that leaves a thread without CRDs, before touching a server', async () => {
    const res = await runCli(['run', 'scenarios/smoke.yaml', '--threads', '30', '--kubeconfig', inject('kubeconfig')]);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain('--threads 30: cannot split 20 CRDs over 30 threads');
    expect(res.stderr).not.toContain('target ');
    const zero = await runCli(['run', 'scenarios/smoke.yaml', '--threads', '0', '--kubeconfig', inject('kubeconfig')]);
    expect(zero.code, zero.stderr).toBe(2);
  });
});
