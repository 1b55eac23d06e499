/**
 * The pieces of `run --threads N` that need no server: where the worker entry
 * is (compiled dist/ from both the sources and the build), how the scenario
 * splits over threads and when it cannot, the connection crossing to a worker,
 * and the merge of the threads' harness figures keeping the worst.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectionData, connectionFromData } from '../../src/engine/thread-protocol.js';
import { KubeClient } from '../../src/kube/client.js';
import { threadSlices, workerEntryUrl } from '../../src/engine/threads.js';
import type { Connection } from '../../src/kube/target.js';
import { parseScenario } from '../../src/scenarios/parse.js';
import { mergeHarness } from '../../src/shard/merge.js';
import { UnsplittableError } from '../../src/shard/slice.js';
import type { HarnessStats } from '../../src/types/results.js';
import { ROOT } from '../helpers/cli.js';

describe('workerEntryUrl', () => {
  it('from the compiled module: the worker next to it in dist/engine', () => {
    expect(workerEntryUrl('file:///app/dist/engine/threads.js').href).toBe('file:///app/dist/engine/thread-worker.js');
  });

  it('from the TypeScript sources (vitest): the compiled worker in dist/, which exists after the build', () => {
    expect(workerEntryUrl('file:///app/src/engine/threads.ts').href).toBe('file:///app/dist/engine/thread-worker.js');
    const here = fileURLToPath(workerEntryUrl());
    expect(here).toBe(path.join(ROOT, 'dist/engine/thread-worker.js'));
    expect(existsSync(here), 'run `npx tsc -p tsconfig.build.json` first').toBe(true);
  });
});

const SMOKE = parseScenario(
  `version: 1
name: t
generate:
  crds: { count: 5, groups: 2 }
  objects: { perCRD: 2 }
phases:
  - { name: install, op: create, of: crds, concurrency: 3 }
  - { name: create, op: create, of: objects }
  - { name: get, op: get, concurrency: 4, repeat: 7 }
`,
  't.yaml',
);

describe('threadSlices', () => {
  it('splits like --shard: CRDs, repeat and concurrency add back up', () => {
    const slices = threadSlices(SMOKE, 2);
    expect(slices.map((s) => s.generate.crds!.count)).toEqual([3, 2]);
    const get = slices.map((s) => s.phases.find((p) => p.name === 'get')!);
    expect(get.map((p) => ('repeat' in p ? p.repeat : undefined))).toEqual([4, 3]);
    expect(get.map((p) => ('concurrency' in p ? p.concurrency : undefined))).toEqual([2, 2]);
    expect(Object.isFrozen(slices[0]!.phases[0])).toBe(true);
  });

  it('refuses a split that leaves a thread without CRDs with the facts (the CLI words them)', () => {
    expect(() => threadSlices(SMOKE, 6)).toThrow(UnsplittableError);
    expect(() => threadSlices(SMOKE, 6)).toThrow(expect.objectContaining({ crds: 5, slices: 6 }));
    expect(() => threadSlices(SMOKE, 0)).toThrow(RangeError);
    expect(() => threadSlices(SMOKE, 1.5)).toThrow(RangeError);
  });
});

describe('the connection a worker gets', () => {
  it('survives structured cloning with its URL, credentials and headers', () => {
    const c: Connection = {
      server: new URL('https://10.0.0.1:6443/k8s/clusters/c-x'),
      context: 'prod',
      local: false,
      tls: { ca: Buffer.from('CA'), cert: 'CERT', key: Buffer.from('KEY'), rejectUnauthorized: true, servername: 'api' },
      headers: { authorization: 'Bearer t' },
    };
    const back = connectionFromData(structuredClone(connectionData(c)));
    expect(back.server.href).toBe(c.server.href);
    expect(back.server.pathname).toBe('/k8s/clusters/c-x');
    expect(Buffer.isBuffer(back.tls.ca) && back.tls.ca.toString()).toBe('CA');
    expect(Buffer.isBuffer(back.tls.key) && back.tls.key.toString()).toBe('KEY');
    expect(back.tls.cert).toBe('CERT');
    expect(back.tls).toMatchObject({ rejectUnauthorized: true, servername: 'api' });
    expect(back.headers).toEqual({ authorization: 'Bearer t' });
    expect(back.refreshHeaders).toBeUndefined();
  });

  it('takes credentials the main thread re-read, into requests it built before', async () => {
    let token = 'tok-1';
    const main: Connection = {
      server: new URL('https://10.0.0.1:6443'),
      context: 'eks',
      local: false,
      tls: { rejectUnauthorized: true },
      headers: { authorization: 'Bearer tok-1' },
      refreshHeaders: async () => ({ authorization: `Bearer ${token}` }),
    };
    const data = structuredClone(connectionData(main));
    expect(data.refreshes).toBe(true);
    // As thread-worker.ts does: the worker's refresh returns what the main thread forwarded last.
    let forwarded = data.headers;
    const workerClient = new KubeClient(connectionFromData(data, () => forwarded), { connections: 1, credentialRefreshMs: 3_600_000 });
    const mainClient = new KubeClient(main, { connections: 1, credentialRefreshMs: 3_600_000 });
    try {
      const prebuilt = workerClient.headers({ accept: 'application/json' });
      // As threads.ts does: every change of the main client's credentials is posted to the workers.
      mainClient.onCredentialsChanged.add((headers) => {
        forwarded = structuredClone({ ...headers });
        void workerClient.refreshCredentials();
      });
      token = 'tok-2';
      await mainClient.refreshCredentials();
      await workerClient.refreshCredentials();
      expect(mainClient.credentialChanges).toBe(1);
      expect(prebuilt.authorization).toBe('Bearer tok-2');
      expect(workerClient.headers({}).authorization).toBe('Bearer tok-2');
    } finally {
      await Promise.all([workerClient.close(), mainClient.close()]);
    }
  });
});

describe('mergeHarness over threads', () => {
  const calm: HarnessStats = { cpuCores: 0.3, eventLoopDelayP99Ms: 2, eventLoopDelayMaxMs: 9, rssMaxBytes: 100, saturated: false, eventLoopUtilization: 0.3, eventLoopWaitMs: 0.2, processCpuCores: 0.7 };
  const starved: HarnessStats = {
    cpuCores: 0.2,
    eventLoopDelayP99Ms: 44,
    eventLoopDelayMaxMs: 48,
    rssMaxBytes: 90,
    saturated: true,
    eventLoopUtilization: 0.8,
    eventLoopWaitMs: 16,
    processCpuCores: 0.6,
    saturatedBy: ['responses waited 16.0 ms on average for the event loop (limit 10 ms)'],
  };

  it('keeps the worst of each figure and the saturated flag with its reasons, whichever thread had them', () => {
    for (const parts of [[calm, starved], [starved, calm]]) {
      expect(mergeHarness(parts)).toEqual({
        cpuCores: 0.3,
        eventLoopDelayP99Ms: 44,
        eventLoopDelayMaxMs: 48,
        rssMaxBytes: 100,
        saturated: true,
        eventLoopUtilization: 0.8,
        eventLoopWaitMs: 16,
        processCpuCores: 0.7,
        saturatedBy: starved.saturatedBy,
      });
    }
    const busy = { ...calm, saturated: true, eventLoopUtilization: 0.95, saturatedBy: ['event loop busy 95% of the time (limit 90%)'] };
    expect(mergeHarness([starved, busy]).saturatedBy).toEqual([...starved.saturatedBy!, ...busy.saturatedBy]);
  });

  it('old results without the newer figures merge as before', () => {
    const old = { cpuCores: 0.5, eventLoopDelayP99Ms: 12, eventLoopDelayMaxMs: 20, rssMaxBytes: 5, saturated: false };
    expect(mergeHarness([old, { ...old, cpuCores: 0.7 }])).toStrictEqual({ ...old, cpuCores: 0.7 });
  });
});
