/**
 * `asa-bench run scenarios/smoke.yaml` end to end through the built CLI,
 * against the shared real control plane (via its kubeconfig; loopback, so the
 * safety guard allows writes), then checks the results directory and that
 * nothing labelled is left on the server.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { countLeftovers } from '../../src/engine/cleanup.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('asa-bench run scenarios/smoke.yaml', () => {
  it('runs every phase, writes results with the real server version, and leaves nothing behind', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'asa-smoke-'));
    dirs.push(out);
    const { code, stdout, stderr } = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', inject('kubeconfig'), '--out', out]);
    expect(stderr).not.toMatch(/internal error/);
    expect(code, stderr).toBe(0);
    for (const op of ['create.crds', 'crd.established', 'create.objects', 'list.quorum', 'list.cache', 'get.quorum', 'patch.objects', 'watch.event-latency', 'discovery.aggregated', 'discovery.legacy-fanout']) {
      expect(stdout).toContain(op);
    }

    const run = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as RunInfo;
    expect(run.status).toBe('complete');
    expect(run.target.version.gitVersion).toBe(inject('serverVersion'));
    expect(run.scenario.name).toBe('smoke');
    expect(run.cleanup?.leftover).toBe(0);

    const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    const op = (phase: string, key: string) => summary.phases.find((p) => p.phase === phase)?.ops.find((o) => o.op === key);
    expect(op('install', 'create.crds')).toMatchObject({ count: 20, ok: 20, errors: {} });
    expect(op('create', 'create.objects')).toMatchObject({ count: 100, ok: 100, errors: {} });
    expect(op('get', 'get.quorum')).toMatchObject({ count: 100, ok: 100 });
    // 10 watchers over 20 CRDs see the patches of the 10 watched CRDs: 100 patches × 10/20.
    expect(op('watch', 'watch.events.modified')?.count).toBe(50);
    expect(op('discovery-legacy', 'discovery.legacy-fanout')).toMatchObject({ count: 2, ok: 2 });
    // Latencies are real measurements: positive and ordered.
    const list = op('list-quorum', 'list.quorum')!;
    expect(list.latencyMs.p50).toBeGreaterThan(0);
    expect(list.latencyMs.p99).toBeGreaterThanOrEqual(list.latencyMs.p50);
    expect(list.histogram.length).toBeGreaterThan(10);

    // The server's samples, every 5 s, as a CSV beside intervals.csv.
    const csv = (await readFile(path.join(out, 'server-metrics.csv'), 'utf8')).trimEnd().split('\n');
    expect(csv[0]).toBe('t_s,crds,rss_bytes,cpu_cores,requests_429_total,apf_rejected_total,apf_in_queue,apf_wait_p99_ms,etcd_p99_ms,stored_objects');
    expect(csv.length - 1).toBe(summary.serverSeries!.length);
    expect(csv.length - 1).toBeGreaterThanOrEqual(1);
    const rows = csv.slice(1).map((line) => line.split(',').map(Number));
    for (const [t, , rss, cpu, r429, apfRejected, , , etcdP99, objects] of rows) {
      expect(t).toBeGreaterThanOrEqual(0);
      expect(rss).toBeGreaterThan(50 * 2 ** 20);
      expect(cpu).toBeGreaterThanOrEqual(0);
      expect(r429).toBeGreaterThanOrEqual(0);
      expect(apfRejected).toBeGreaterThanOrEqual(0);
      expect(etcdP99).toBeGreaterThanOrEqual(0);
      // apiserver_resource_objects is refreshed about once a minute: 0 early in a fresh server.
      expect(objects).toBeGreaterThanOrEqual(0);
    }

    const connection = await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true });
    const client = new KubeClient(connection, { connections: 2 });
    try {
      expect(await countLeftovers(client, run.runId)).toBe(0);
    } finally {
      await client.close();
    }
  });
});
