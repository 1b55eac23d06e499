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
import { decodeWatchLine, Gate, reconnectDelayMs, watchOperation } from '../../src/engine/watch.js';
import type { OpContext } from '../../src/engine/context.js';
import { CrdGenerator } from '../../src/scenarios/schema.js';
import { KubeClient, RequestError } from '../../src/kube/client.js';
import { PhaseRecorder } from '../../src/metrics/recorder.js';
import { compilePlan } from '../../src/scenarios/plan.js';
import { parseScenario } from '../../src/scenarios/parse.js';

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
      coreApi: true,
      crds: { seed: 1, runId: 'rwatchts', crds: CrdGenerator.parse({ count: 1 }) },
      state: { installed: 1, missingCrds: new Set(), crdPostsFailed: 0, missingObjects: new Set(), withObjects: 0, extraObjects: 0, extraPerCrd: new Map(), namespacesReady: true },
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

describe('reconnectDelayMs', () => {
  const http500 = new RequestError('watch: HTTP 500', 'http-500', 500);
  it('backs off exponentially with jitter, capped at 10 s', () => {
    expect(reconnectDelayMs(http500, 0, () => 0)).toBe(100);
    expect(reconnectDelayMs(http500, 0, () => 1)).toBe(200);
    expect(reconnectDelayMs(http500, 3, () => 1)).toBe(1_600);
    expect(reconnectDelayMs(http500, 30, () => 1)).toBe(10_000);
    expect(reconnectDelayMs(http500, 30, () => 0)).toBe(5_000);
  });
  it('waits at least what a 429 Retry-After asks, at most 30 s', () => {
    const throttled = (s: number) => new RequestError('watch: HTTP 429', 'http-429', 429, undefined, { retryAfterSeconds: s });
    expect(reconnectDelayMs(throttled(3), 0, () => 1)).toBe(3_000);
    expect(reconnectDelayMs(throttled(1), 5, () => 1)).toBe(6_400);
    expect(reconnectDelayMs(throttled(600), 0, () => 1)).toBe(30_000);
  });
});

describe('decodeWatchLine', () => {
  const line = (o: unknown) => Buffer.from(JSON.stringify(o));
  it('reads type, metadata.resourceVersion and the sent-at annotation without parsing the object', () => {
    // Key order as kube-apiserver encodes a custom object: type first, then the object's keys sorted.
    const modified = line({
      type: 'MODIFIED',
      object: {
        apiVersion: 'x.asa-bench.io/v1',
        kind: 'Widget',
        metadata: { annotations: { 'asa-bench.io/sent-at-us': '1700000000000042' }, name: 'a', resourceVersion: '981', uid: 'u' },
        spec: { resourceVersion: 'not this one' },
      },
    });
    expect(decodeWatchLine(modified)).toEqual({ type: 'MODIFIED', resourceVersion: '981', sentAtUs: 1700000000000042 });
    expect(decodeWatchLine(line({ type: 'BOOKMARK', object: { kind: 'Widget', metadata: { resourceVersion: '1000' } } }))).toEqual({ type: 'BOOKMARK', resourceVersion: '1000' });
  });
  it('parses ERROR events and lines in any other shape as JSON', () => {
    expect(decodeWatchLine(line({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }))).toMatchObject({ type: 'ERROR', code: 410 });
    const reordered = line({ object: { metadata: { resourceVersion: '7', annotations: { 'asa-bench.io/sent-at-us': '5' } } }, type: 'ADDED' });
    expect(decodeWatchLine(reordered)).toMatchObject({ type: 'ADDED', resourceVersion: '7', sentAtUs: 5 });
    expect(() => decodeWatchLine(Buffer.from('{"type":"ERR'))).toThrow(SyntaxError);
  });
});

describe('Gate', () => {
  it('lets at most `limit` in, wakes waiters in order, and leaving twice frees one place', async () => {
    const gate = new Gate(2);
    const signal = new AbortController().signal;
    const a = await gate.enter(signal);
    const b = await gate.enter(signal);
    const order: string[] = [];
    const c = gate.enter(signal).then((t) => (order.push('c'), t));
    const d = gate.enter(signal).then((t) => (order.push('d'), t));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    a.leave();
    a.leave(); // idempotent: must not let d in too
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['c']);
    b.leave();
    await d;
    expect(order).toEqual(['c', 'd']);
    (await c).leave();
  });
  it('a waiter that gives up (abort) takes no place and no wake-up', async () => {
    const gate = new Gate(1);
    const held = await gate.enter(new AbortController().signal);
    const abort = new AbortController();
    const quitter = gate.enter(abort.signal);
    const keeper = gate.enter(new AbortController().signal);
    abort.abort();
    (await quitter).leave(); // a no-op ticket
    held.leave();
    const t = await Promise.race([keeper.then(() => 'in'), new Promise((r) => setTimeout(() => r('stuck'), 100))]);
    expect(t).toBe('in');
  });
});
