/**
 * The pod side without a pod: which shard JOB_COMPLETION_INDEX selects, the
 * in-cluster kubeconfig (from a service-account folder laid out as the
 * kubelet mounts it), and results folders ↔ ShardResult.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/errors.js';
import { RESULT_FILES } from '../../src/distribute/encode.js';
import { readShardResult, SERVICE_ACCOUNT_DIR, shardOfCompletionIndex, writeInClusterKubeconfig, writeShardResult } from '../../src/distribute/worker.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import { TargetError, UsageError } from '../../src/types/errors.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'asa-dist-worker-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('shardOfCompletionIndex', () => {
  it('maps the 0-based completion index to the 1-based shard of run --shard', () => {
    expect(shardOfCompletionIndex(3, undefined, { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 3 });
    expect(shardOfCompletionIndex(3, undefined, { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 3, count: 3 });
    // --index wins over the environment.
    expect(shardOfCompletionIndex(3, 1, { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 2, count: 3 });
  });

  it('refuses a missing or out-of-range index as a usage error', () => {
    expect(() => shardOfCompletionIndex(3, undefined, {})).toThrow(UsageError);
    expect(() => shardOfCompletionIndex(3, undefined, {})).toThrow(/JOB_COMPLETION_INDEX is not set/);
    expect(() => shardOfCompletionIndex(3, undefined, { JOB_COMPLETION_INDEX: '3' })).toThrow(/0 ≤ index < 3/);
    expect(() => shardOfCompletionIndex(3, undefined, { JOB_COMPLETION_INDEX: '-1' })).toThrow(UsageError);
    expect(() => shardOfCompletionIndex(3, undefined, { JOB_COMPLETION_INDEX: 'one' })).toThrow(UsageError);
    expect(() => shardOfCompletionIndex(0, 0, {})).toThrow(/shard count 0: expected a whole number/);
  });
});

describe('in-cluster kubeconfig', () => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmp, 'root-'));
    const sa = path.join(root, SERVICE_ACCOUNT_DIR);
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, 'token'), 'pod-token-123');
    writeFileSync(path.join(sa, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(path.join(sa, 'namespace'), 'asa-bench-rtest001');
  });
  afterEach(() => {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("points at the service's address with the pod's CA and token, without copying the token", async () => {
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const file = await writeInClusterKubeconfig(path.join(tmp, 'kc1'), { root });
    expect(readFileSync(file, 'utf8')).not.toContain('pod-token-123');
    const connection = await connectionFromKubeconfig({ kubeconfig: file });
    expect(connection.server.origin).toBe('https://10.96.0.1');
    expect(connection.local).toBe(false);
    expect(connection.headers.authorization).toBe('Bearer pod-token-123');
    expect(String(connection.tls.ca)).toContain('BEGIN CERTIFICATE');
    expect(connection.tls.rejectUnauthorized).toBe(true);
  });

  it('brackets an IPv6 service address', async () => {
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '6443';
    const connection = await connectionFromKubeconfig({ kubeconfig: await writeInClusterKubeconfig(path.join(tmp, 'kc2'), { root }) });
    expect(connection.server.origin).toBe('https://[fd00::1]:6443');
  });

  it('outside a pod is a target error (exit 3) that says to pass --kubeconfig', async () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    const err = await writeInClusterKubeconfig(path.join(tmp, 'kc3'), { root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect(describeError(err as TargetError).hint).toMatch(/--kubeconfig/);
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    await expect(writeInClusterKubeconfig(path.join(tmp, 'kc4'), { root: path.join(tmp, 'no-such-root') })).rejects.toThrow(/token is missing/);
  });
});

describe('results folder ↔ ShardResult', () => {
  it('reads the three result files and writes exactly them back', async () => {
    const from = path.join(tmp, 'from');
    mkdirSync(from);
    const contents = { 'run.json': '{"runId":"r1234567"}\n', 'summary.json': '{"phases":[]}\n', 'intervals.csv': 't_s\n1\n' };
    for (const [name, text] of Object.entries(contents)) writeFileSync(path.join(from, name), text);
    writeFileSync(path.join(from, 'report.html'), '<html>');
    const result = await readShardResult(from, { index: 2, count: 3 }, 1);
    expect(result).toEqual({ format: 1, shard: { index: 2, count: 3 }, exitCode: 1, files: contents });
    const to = path.join(tmp, 'to');
    await writeShardResult(to, result);
    for (const name of RESULT_FILES) expect(readFileSync(path.join(to, name), 'utf8')).toBe(contents[name]);
  });

  it('needs run.json and summary.json; intervals.csv may be missing', async () => {
    const dir = path.join(tmp, 'partial');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'run.json'), '{}');
    await expect(readShardResult(dir, { index: 1, count: 1 }, 4)).rejects.toThrow(/summary\.json/);
    writeFileSync(path.join(dir, 'summary.json'), '{}');
    expect((await readShardResult(dir, { index: 1, count: 1 }, 4)).files).toEqual({ 'run.json': '{}', 'summary.json': '{}' });
  });
});
