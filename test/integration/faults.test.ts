/**
 * Faults against a real control plane of the test's own (it kills and pauses
 * processes, so not the shared one): kube-apiserver SIGKILLed mid-phase and
 * restarted; etcd paused with SIGSTOP; a 429 storm from API Priority and
 * Fairness; GOAWAY on HTTP/2. The run must not crash, must classify what
 * failed, must recover, and must leave nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/analysis/analyze.js';
import { ensureControlPlane } from '../../src/controlplane/build.js';
import { DEFAULT_SERVER_VERSION } from '../../src/controlplane/paths.js';
import { startControlPlane, type RunningControlPlane } from '../../src/controlplane/up.js';
import { countLeftovers } from '../../src/engine/cleanup.js';
import { executePlan, type ExecuteResult } from '../../src/engine/run.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig, type Connection } from '../../src/kube/target.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { compilePlan } from '../../src/scenarios/plan.js';
import type { OpSummary, RunInfo } from '../../src/types/results.js';

let cp: RunningControlPlane;
let connection: Connection;

beforeAll(async () => {
  cp = await startControlPlane(await ensureControlPlane(DEFAULT_SERVER_VERSION), () => {}, { apiserverArgs: ['--goaway-chance=0.02'] });
  connection = await connectionFromKubeconfig({ kubeconfig: cp.kubeconfig, local: true });
});

afterAll(async () => {
  if (cp) process.kill(cp.etcdPid, 'SIGCONT');
  await cp?.stop();
});

const runIds = new Set<string>();
function newRunId(): string {
  const id = `rflt${Math.random().toString(36).slice(2, 6).padEnd(4, '0')}`;
  runIds.add(id);
  return id;
}

async function run(yaml: string, client: KubeClient, during?: () => Promise<void>): Promise<{ result: ExecuteResult; runId: string }> {
  const plan = compilePlan(parseScenario(yaml, 'inline.yaml'));
  const runId = newRunId();
  const [result] = await Promise.all([
    executePlan(plan, { client, runId, local: true, signal: new AbortController().signal, onEvent: () => {} }),
    during?.(),
  ]);
  return { result, runId };
}

function op(result: ExecuteResult, phase: string, key: string): OpSummary | undefined {
  return result.phases.find((p) => p.phase === phase)?.ops.find((o) => o.op === key);
}

const objects = `
generate:
  crds: { count: 2 }
  objects: { perCRD: 5, sizeBytes: 128 }
`;

describe('faults', () => {
  it('kube-apiserver killed mid-phase and restarted: failures classified, watches reconnect, the run completes and cleans up', async () => {
    const client = new KubeClient(connection, { connections: 8, timeoutMs: 5_000 });
    try {
      const { result, runId } = await run(
        `version: 1
name: crash${objects}
onError: continue
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: reads, op: get, consistency: quorum, concurrency: 4, duration: 14s }
  - { name: watch, op: watch, watchers: 2, during: reads }
  - { name: after, op: get, consistency: quorum, concurrency: 2, repeat: 50 }
`,
        client,
        async () => {
          // Let the reads phase start, then crash the server for 2 s.
          await new Promise((r) => setTimeout(r, 6_000));
          await cp.crashApiserver(2_000);
        },
      );
      expect(result.status).toBe('complete');
      const reads = op(result, 'reads', 'get.quorum')!;
      const failed = Object.entries(reads.errors).filter(([cls]) => cls !== 'http-429');
      expect(failed.length).toBeGreaterThan(0);
      // A restarted kube-apiserver answers 403 for a moment, until its RBAC informers have synced.
      for (const [cls] of failed) expect(['connection', 'timeout', 'http-403', 'http-500', 'http-503', 'http-504']).toContain(cls);
      expect(reads.ok).toBeGreaterThan(0);
      // Watches noticed the dropped streams and came back.
      expect(op(result, 'watch', 'watch.reconnect')?.count ?? 0).toBeGreaterThan(0);
      // After the restart everything works again.
      expect(op(result, 'after', 'get.quorum')).toMatchObject({ count: 50, ok: 50, errors: {} });
      expect(result.cleanup?.leftover).toBe(0);
      expect(await countLeftovers(client, runId)).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('kube-apiserver killed with onError: abort-run: the run ends failed, with what it measured', async () => {
    const client = new KubeClient(connection, { connections: 4, timeoutMs: 5_000 });
    try {
      const { result, runId } = await run(
        `version: 1
name: abort${objects}
onError: abort-run
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: reads, op: get, consistency: quorum, concurrency: 2, duration: 10s }
  - { name: never, op: get, repeat: 5 }
`,
        client,
        async () => {
          await new Promise((r) => setTimeout(r, 5_000));
          await cp.crashApiserver(1_000);
        },
      );
      expect(result.status).toBe('failed');
      expect(result.reason).toMatch(/reads/);
      expect(result.phases.map((p) => p.phase)).toEqual(['install', 'create', 'reads']);
      expect(result.cleanup?.leftover).toBe(0);
      expect(await countLeftovers(client, runId)).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('etcd paused for 6 s: quorum reads time out and are counted as timeouts, then the run recovers', async () => {
    const client = new KubeClient(connection, { connections: 4, timeoutMs: 2_000 });
    try {
      const { result } = await run(
        `version: 1
name: pause${objects}
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: reads, op: get, consistency: quorum, concurrency: 2, duration: 14s }
  - { name: after, op: get, consistency: quorum, repeat: 20 }
`,
        client,
        async () => {
          await new Promise((r) => setTimeout(r, 5_000));
          process.kill(cp.etcdPid, 'SIGSTOP');
          await new Promise((r) => setTimeout(r, 6_000));
          process.kill(cp.etcdPid, 'SIGCONT');
        },
      );
      expect(result.status).toBe('complete');
      const reads = op(result, 'reads', 'get.quorum')!;
      expect(reads.errors.timeout ?? 0).toBeGreaterThan(0);
      expect(reads.ok).toBeGreaterThan(0);
      expect(op(result, 'after', 'get.quorum')).toMatchObject({ count: 20, ok: 20 });
      expect(result.cleanup?.leftover).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('a 429 storm from a starved priority level is counted apart, Retry-After is honoured, and the analysis names flow control', async () => {
    const admin = await connectionFromKubeconfig({ kubeconfig: cp.kubeconfig, context: 'asa-bench-local-admin', local: true });
    const adminClient = new KubeClient(admin, { connections: 2 });
    const client = new KubeClient(connection, { connections: 32 });
    const apf = '/apis/flowcontrol.apiserver.k8s.io/v1';
    try {
      await adminClient.sendJson('POST', `${apf}/prioritylevelconfigurations`, {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'PriorityLevelConfiguration',
        metadata: { name: 'asa-bench-starved' },
        spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, limitResponse: { type: 'Reject' } } },
      });
      await adminClient.sendJson('POST', `${apf}/flowschemas`, {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: 'asa-bench-starved' },
        spec: {
          priorityLevelConfiguration: { name: 'asa-bench-starved' },
          matchingPrecedence: 500,
          distinguisherMethod: { type: 'ByUser' },
          rules: [
            {
              subjects: [{ kind: 'Group', group: { name: 'asa-bench:load' } }],
              resourceRules: [{ verbs: ['get'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }],
            },
          ],
        },
      });
      // The flow-control configuration takes effect asynchronously: wait until a burst of
      // reads by the load user gets a 429 (bounded), so the scenario starts on a starved level.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const statuses = await Promise.all(
          Array.from({ length: 32 }, () => client.send({ method: 'GET', path: '/api/v1/namespaces/default', headers: client.headers({ accept: 'application/json' }) }).then((r) => r.status)),
        );
        if (statuses.includes(429)) break;
        if (Date.now() > deadline) throw new Error('the starved priority level never rejected a request');
        await new Promise((r) => setTimeout(r, 500));
      }
      const { result, runId } = await run(
        `version: 1
name: storm${objects}
honorRetryAfter: true
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: storm, op: get, consistency: cache, concurrency: 16, duration: 4s }
`,
        client,
      );
      const storm = result.phases.find((p) => p.phase === 'storm')!;
      const get = storm.ops.find((o) => o.op === 'get.cache')!;
      expect(get.ok).toBeGreaterThan(0);
      // Retries after Retry-After were made and counted; 429s that outlasted them are http-429, never errors of another class.
      expect(storm.ops.find((o) => o.op === 'throttled.retried')?.count ?? 0).toBeGreaterThan(0);
      expect(Object.keys(get.errors).filter((c) => c !== 'http-429')).toEqual([]);
      expect(storm.server?.apfRejected ?? 0).toBeGreaterThan(0);
      const runInfo = { target: { local: true }, machine: { cores: 2, memoryBytes: 2 ** 34 }, scenario: { text: '' } } as unknown as RunInfo;
      const analysis = analyze(runInfo, { formatVersion: 1, runId, phases: result.phases });
      // Flow control is named; on a busy machine the harness may have saturated too, which the
      // analysis then says first, with flow control as what the server's evidence points at.
      const verdict = analysis.phases.find((v) => v.phase === 'storm')!;
      expect(verdict.bottleneck === 'flow-control' || verdict.behindHarness === 'flow-control', JSON.stringify(verdict)).toBe(true);
      expect(result.cleanup?.leftover).toBe(0);
    } finally {
      await adminClient.send({ method: 'DELETE', path: `${apf}/flowschemas/asa-bench-starved` });
      await adminClient.send({ method: 'DELETE', path: `${apf}/prioritylevelconfigurations/asa-bench-starved` });
      await adminClient.close();
      await client.close();
    }
  });

  it('HTTP/2 with GOAWAY from the server (--goaway-chance): reads succeed, retries counted where they happened', async () => {
    const client = new KubeClient(connection, { connections: 2, http2: true });
    try {
      const { result } = await run(
        `version: 1
name: goaway${objects}
phases:
  - { name: install, op: create, of: crds, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 4 }
  - { name: reads, op: get, consistency: cache, concurrency: 8, repeat: 1000 }
`,
        client,
      );
      expect(result.status).toBe('complete');
      const reads = op(result, 'reads', 'get.cache')!;
      expect(reads.count).toBe(1000);
      expect(reads.ok, JSON.stringify(reads.errorExamples)).toBe(1000);
      expect(result.cleanup?.leftover).toBe(0);
    } finally {
      await client.close();
    }
  });
});
