/**
 * The watcher's protocol handling, against a small local HTTP server that
 * scripts the responses (transport-level detail; the real behaviour of watches
 * on kube-apiserver is covered in test/integration/ops.test.ts):
 * a 410 Gone relists and re-watches, bookmarks are counted, a stream the
 * server ends is resumed from the last resourceVersion.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchOperation } from '../../src/engine/watch.js';
import type { OpContext } from '../../src/engine/context.js';
import { CrdGenerator } from '../../src/scenarios/schema.js';
import { KubeClient } from '../../src/kube/client.js';
import { PhaseRecorder } from '../../src/metrics/recorder.js';
import { compilePlan } from '../../src/scenarios/plan.js';
import { parseScenario } from '../../src/scenarios/load.js';

let server: Server;
let port: number;
const requests: string[] = [];
let watchCalls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url!);
    const url = new URL(req.url!, 'http://x');
    if (url.searchParams.get('watch') !== '1') {
      // The list that gives the starting resourceVersion.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ metadata: { resourceVersion: String(100 + requests.length) }, items: [] }));
      return;
    }
    watchCalls++;
    res.writeHead(200, { 'content-type': 'application/json' });
    if (watchCalls === 1) {
      // Too old: the watch cache no longer has this resourceVersion.
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })}\n`);
      return;
    }
    if (watchCalls === 2) {
      const sentAt = Math.round((performance.timeOrigin + performance.now()) * 1000) - 5000; // 5 ms ago
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '200', annotations: { 'asa-bench.io/sent-at-us': String(sentAt) } } } })}\n`);
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '250' } } })}\n`);
      res.end(); // the server ends the stream, as on its watch timeout or a GOAWAY
      return;
    }
    // Later watches stay open until the client goes away.
    res.write(`${JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '300' } } })}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('watchOperation', () => {
  it('relists on 410 Gone, counts bookmarks, and resumes from the last resourceVersion after the stream ends', async () => {
    const client = new KubeClient({ server: new URL(`http://127.0.0.1:${port}`), context: 't', local: false, tls: { rejectUnauthorized: true }, headers: {} }, { connections: 2 });
    const scenario = parseScenario(
      'version: 1\nname: w\ngenerate: { crds: { count: 1 } }\nphases:\n  - { name: watch, op: watch, watchers: 1, duration: 1s }\n',
      'inline.yaml',
    );
    const plan = compilePlan(scenario);
    const recorder = new PhaseRecorder();
    const ctx: OpContext = {
      client,
      runId: 'rwatchts',
      local: false,
      crds: { seed: 1, runId: 'rwatchts', crds: CrdGenerator.parse({ count: 1 }) },
      state: { installed: 1, missingCrds: new Set(), missingObjects: new Set(), withObjects: 0, extraObjects: 0, extraPerCrd: new Map(), namespacesReady: true },
      recorder,
    };
    const op = watchOperation(ctx, plan.phases[0]!, undefined);
    const stop = new AbortController();
    const done = op.iteration(0, stop.signal);
    await new Promise((r) => setTimeout(r, 600));
    stop.abort();
    await done;
    op.after?.(1);
    await client.close();

    const counts = Object.fromEntries(recorder.summaries().map((s) => [s.op, s.count]));
    expect(counts['watch.relist']).toBe(1);
    expect(counts['watch.bookmark']).toBe(1);
    expect(counts['watch.reconnect']).toBe(1);
    expect(counts['watch.events.added']).toBe(1);
    expect(counts['watch.events.modified']).toBe(1);
    const latency = recorder.summaries().find((s) => s.op === 'watch.event-latency')!;
    expect(latency.latencyMs.max).toBeGreaterThanOrEqual(4);

    const watches = requests.filter((u) => u.includes('watch=1'));
    // 1st from the first list; after 410 a fresh list, then a watch from its resourceVersion;
    // after the stream ended, a watch from the bookmark's resourceVersion (250), no new list.
    expect(watches).toHaveLength(3);
    expect(watches[2]).toContain('resourceVersion=250');
    expect(requests.filter((u) => !u.includes('watch=1'))).toHaveLength(2);
  });
});
