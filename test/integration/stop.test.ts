/**
 * Stop conditions against the shared real control plane: a sweep whose
 * second step would need more kube-apiserver memory than `--stop-when
 * serverMemory=…` allows stops after its first step, ends complete (exit 0),
 * cleans up, and its report says where and why it stopped, naming memory.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { countLeftovers } from '../../src/engine/cleanup.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import { scrapeServerMetrics } from '../../src/metrics/server-metrics.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

// The crds-5000 CRD shape (about 4.6 MiB of kube-apiserver memory per CRD on v1.37.2):
// step 0 adds ~0.2 GiB, step 1 would add ~9 GiB.
const SCENARIO = `version: 1
name: stop-memory
seed: 3
generate:
  crds: { count: 2000, groups: 20, schema: { properties: 30, depth: 3, validationRules: 1 } }
steps: { by: crds, at: [40, 2000] }
phases:
  - { name: install, op: create, of: crds, concurrency: 10, waitFor: established }
  - { name: discovery, op: discovery, mode: aggregated, repeat: 3 }
`;

const GiB = 2 ** 30;
let tmp: string;
let client: KubeClient;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-stop-'));
  client = new KubeClient(await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true }), { connections: 2 });
});

afterAll(async () => {
  await runCli(['cleanup', '--all', '--kubeconfig', inject('kubeconfig')]);
  await client?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('run --stop-when serverMemory=…', () => {
  it('stops after step 0 when step 1 would pass the limit: complete, exit 0, cleaned up, the report names memory', async () => {
    const scenario = path.join(tmp, 'stop-memory.yaml');
    await writeFile(scenario, SCENARIO);
    // The limit sits 1.5 GiB above what the server holds now: step 0 fits, step 1's projection does not.
    const before = await scrapeServerMetrics(client);
    const limitMiB = Math.round((before.process.residentMemoryBytes + 1.5 * GiB) / 2 ** 20);
    const out = path.join(tmp, 'out');
    const { code, stdout, stderr } = await runCli(['run', scenario, '--kubeconfig', inject('kubeconfig'), '--out', out, '--stop-when', `serverMemory=${limitMiB}MiB`]);
    expect(stderr).not.toMatch(/internal error/);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`stop when: serverMemory=${limitMiB}MiB`);
    expect(stderr).toMatch(/stopping: Stopped at 40 CRDs: kube-apiserver memory [\d.]+ GiB/);

    const run = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as RunInfo;
    expect(run.status).toBe('complete');
    expect(run.stoppedAt).toMatchObject({ step: 0, crds: 40, reason: 'server-memory', condition: `serverMemory=${limitMiB}MiB`, limit: limitMiB * 2 ** 20, next: { step: 1, crds: 2000 } });
    expect(run.stoppedAt!.next!.projectedBytes).toBeGreaterThan(limitMiB * 2 ** 20);
    expect(run.stoppedAt!.next!.perCrdBytes).toBeGreaterThan(0);
    expect(run.cleanup).toMatchObject({ leftover: 0 });
    expect(run.flags).toMatchObject({ stopWhen: [`serverMemory=${limitMiB}MiB`] });

    // Step 0 was measured whole; step 1 never started.
    const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.phases.map((p) => `${p.step}:${p.phase}`)).toEqual(['0:install', '0:discovery']);
    expect(summary.phases[0]!.ops.find((o) => o.op === 'create.crds')).toMatchObject({ count: 40, ok: 40 });

    // The report's first sentence says where and why.
    const report = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/Stopped at 40 CRDs: kube-apiserver memory [\d.]+ GiB of [\d.]+ GiB; the next step \(2,000 CRDs\) needed \\?~[\d.]+ GiB at [\d.]+ MiB per CRD, more than serverMemory=\d+MiB/);
    expect(stdout).toContain('create.crds');
    expect(await countLeftovers(client, run.runId)).toBe(0);
  });

  it('refuses a condition on a phase the scenario does not have, before any load', async () => {
    const scenario = path.join(tmp, 'stop-memory.yaml');
    const { code, stderr } = await runCli(['run', scenario, '--kubeconfig', inject('kubeconfig'), '--stop-when', 'nothing.p99=1s']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--stop-when nothing\.p99=1s: expected the name of a phase \(install, discovery\)/);
  });
});
