/**
 * `asa-bench distribute` and `distribute-worker` through main(), without a
 * cluster: --dry-run prints the manifests and touches nothing; bad input is
 * exit 2 before any target is resolved (the kubeconfig given does not exist,
 * so reaching it would be exit 3); the worker is hidden from --help.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { finishDistributed, keepFinishedShards } from '../../src/cli/distribute.js';
import { main } from '../../src/cli/main.js';
import type { CollectedShard } from '../../src/distribute/orchestrate.js';
import { Output } from '../../src/cli/output.js';
import { ExitCode, RunFailedError } from '../../src/types/errors.js';
import { ROOT } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'asa-dist-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SMOKE = path.join(ROOT, 'scenarios/smoke.yaml');
const NO_KUBECONFIG = path.join(tmp, 'missing-kubeconfig');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = new Output({ write: (s: string) => ((stdout += s), true) } as NodeJS.WritableStream, { write: (s: string) => ((stderr += s), true) } as NodeJS.WritableStream);
  const code = await main(args, out);
  return { code, stdout, stderr };
}

describe('distribute --dry-run', () => {
  it('prints the six manifests as YAML and touches nothing', async () => {
    const res = await cli(['distribute', SMOKE, '--workers', '3', '--image', 'registry.example/asa-bench:1', '--dry-run', '--kubeconfig', NO_KUBECONFIG]);
    expect(res.code, res.stderr).toBe(ExitCode.ok);
    const docs = parseAllDocuments(res.stdout).map((d) => d.toJS() as Record<string, any>);
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job']);
    const job = docs[5]!;
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, activeDeadlineSeconds: 3600 });
    expect(job.spec.template.spec.containers[0].image).toBe('registry.example/asa-bench:1');
    expect(job.spec.template.spec.containers[0].args).toEqual(['distribute-worker', '/etc/asa-bench/scenario.yaml', '--count', '3', '--out', '/tmp/asa-bench/result', '--connections', '32', '--request-timeout', '1m']);
    expect(docs[0]!.metadata.name).toBe(job.metadata.namespace);
    expect(res.stderr).toBe('');
  });

  it('--print, an existing --namespace, and worker flags passed on', async () => {
    const res = await cli(['distribute', SMOKE, '--workers', '2', '--image', 'img:1', '--print', '--namespace', 'load', '--http2', '--connections', '8', '--timeout', '600', '--allow-huge']);
    expect(res.code, res.stderr).toBe(ExitCode.ok);
    const docs = parseAllDocuments(res.stdout).map((d) => d.toJS() as Record<string, any>);
    expect(docs.map((d) => d.kind)).toEqual(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job']);
    const job = docs.at(-1)!;
    expect(job.metadata.namespace).toBe('load');
    expect(job.spec.activeDeadlineSeconds).toBe(600);
    expect(job.spec.template.spec.containers[0].args.slice(6)).toEqual(['--connections', '8', '--request-timeout', '1m', '--http2', '--allow-huge']);
    expect(res.stderr).toMatch(/namespace load is used as it is/);
  });
});

describe('bad input is exit 2, before any target', () => {
  const base = [SMOKE, '--image', 'img:1', '--kubeconfig', NO_KUBECONFIG];
  it.each([
    [['--workers', '0'], /--workers 0/],
    [['--workers', '2.5'], /--workers 2.5/],
    [['--workers', '21'], /cannot split 20 CRDs over 21 shards/],
    [['--workers', '2', '--timeout', '0'], /--timeout 0/],
    [['--workers', '2', '--namespace', 'Bad_NS'], /--namespace Bad_NS/],
  ])('%j', async (extra, message) => {
    const res = await cli(['distribute', ...base, ...extra]);
    expect(res.code).toBe(ExitCode.usage);
    expect(res.stderr).toMatch(message);
  });

  it('an --image that is blank, a missing --image or --workers', async () => {
    expect((await cli(['distribute', SMOKE, '--workers', '2', '--image', ' ', '--kubeconfig', NO_KUBECONFIG])).code).toBe(ExitCode.usage);
    const noImage = await cli(['distribute', SMOKE, '--workers', '2', '--kubeconfig', NO_KUBECONFIG]);
    expect(noImage.code).toBe(ExitCode.usage);
    expect(noImage.stderr).toMatch(/image/);
    expect((await cli(['distribute', SMOKE, '--image', 'i:1'])).code).toBe(ExitCode.usage);
  });

  it('an --out folder that already holds results', async () => {
    const dir = path.join(tmp, 'used');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'run.json'), '{}');
    const res = await cli(['distribute', ...base, '--workers', '2', '--out', dir]);
    expect(res.code).toBe(ExitCode.usage);
    expect(res.stderr).toMatch(/already holds results/);
  });

  it('reaching the target with a missing kubeconfig is exit 3', async () => {
    const res = await cli(['distribute', ...base, '--workers', '2', '--out', path.join(tmp, 'fresh')]);
    expect(res.code).toBe(ExitCode.target);
    expect(res.stderr).toMatch(/does not exist/);
  });
});

describe('distribute-worker', () => {
  it('is hidden from --help, and needs a shard index', async () => {
    // yargs prints --help with console.log.
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let help: string;
    try {
      expect((await cli(['--help'])).code).toBe(ExitCode.ok);
      help = log.mock.calls.flat().join('\n');
    } finally {
      log.mockRestore();
    }
    expect(help).toMatch(/distribute <scenario>/);
    expect(help).not.toMatch(/distribute-worker/);
    const saved = process.env.JOB_COMPLETION_INDEX;
    delete process.env.JOB_COMPLETION_INDEX;
    try {
      const res = await cli(['distribute-worker', SMOKE, '--count', '3', '--kubeconfig', NO_KUBECONFIG]);
      expect(res.code).toBe(ExitCode.usage);
      expect(res.stderr).toMatch(/JOB_COMPLETION_INDEX is not set/);
      expect(res.stdout).toBe('');
    } finally {
      if (saved !== undefined) process.env.JOB_COMPLETION_INDEX = saved;
    }
  });

  it('outside a pod without --kubeconfig is exit 3 and prints no result', async () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      const res = await cli(['distribute-worker', SMOKE, '--count', '3', '--index', '1']);
      expect(res.code).toBe(ExitCode.target);
      expect(res.stderr).toMatch(/not running in a Kubernetes pod/);
      expect(res.stdout).toBe('');
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });
});

describe('finishing a distributed run', () => {
  it('a shard without a result is an error that names it; the others are kept', async () => {
    const partial: CollectedShard[] = [
      { shard: { index: 1, count: 2 }, result: { format: 1, shard: { index: 1, count: 2 }, exitCode: 0, files: { 'run.json': '{"runId":"r1111111"}\n', 'summary.json': '{"phases":[]}\n' } } },
      { shard: { index: 2, count: 2 }, pod: 'p-2', problem: 'pod p-2: no shard result in the log', runId: 'rabcdefg' },
    ];
    let stderr = '';
    const out = new Output({ write: () => true } as unknown as NodeJS.WritableStream, { write: (s: string) => ((stderr += s), true) } as NodeJS.WritableStream);
    const dir = path.join(tmp, 'partial');
    const err = await finishDistributed(partial, dir, [], out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect((err as RunFailedError).message).toBe('1 of 2 shards have no result');
    expect((err as RunFailedError).hint).toMatch(/merge --force/);
    expect(stderr).toMatch(/shard 2\/2: pod p-2: no shard result in the log/);
    expect(stderr).toMatch(/asa-bench cleanup --run rabcdefg/);
    expect(readdirSync(dir)).toEqual(['shard-1']);
    expect(readFileSync(path.join(dir, 'shard-1', 'run.json'), 'utf8')).toBe('{"runId":"r1111111"}\n');
  });

  it('after a timeout or Ctrl-C, the shards that finished are kept and the merge command is named', async () => {
    const collected: CollectedShard[] = [
      { shard: { index: 1, count: 3 }, pod: 'p-1', podState: 'Running', problem: 'pod p-1: no shard result in the log' },
      { shard: { index: 2, count: 3 }, pod: 'p-2', podState: 'Succeeded', result: { format: 1, shard: { index: 2, count: 3 }, exitCode: 0, files: { 'run.json': '{"runId":"r2222222"}\n', 'summary.json': '{"phases":[]}\n' } } },
      { shard: { index: 3, count: 3 }, problem: 'no pod ran shard 3/3 (completion index 2)' },
    ];
    let stderr = '';
    const out = new Output({ write: () => true } as unknown as NodeJS.WritableStream, { write: (s: string) => ((stderr += s), true) } as NodeJS.WritableStream);
    const dir = path.join(tmp, 'salvaged');
    expect(await keepFinishedShards(collected, dir, out)).toBe(1);
    expect(readdirSync(dir)).toEqual(['shard-2']);
    expect(readFileSync(path.join(dir, 'shard-2', 'run.json'), 'utf8')).toBe('{"runId":"r2222222"}\n');
    expect(stderr).toContain('kept the results of 1 of 3 shards that finished (2/3)');
    expect(stderr).toContain(`asa-bench merge --force ${dir}/shard-*`);
    // Nothing finished: nothing written, nothing said.
    stderr = '';
    expect(await keepFinishedShards([collected[0]!, collected[2]!], path.join(tmp, 'none'), out)).toBe(0);
    expect(stderr).toBe('');
  });
});
