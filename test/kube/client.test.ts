/**
 * KubeClient transport details against a small local HTTP server (the real API
 * server behaviour is in test/integration): count mode measures the whole body
 * but keeps only its head, error bodies survive count mode, aborts and refused
 * connections are classified, writes are never retried.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COUNTED_HEAD_BYTES, KubeClient, RequestError } from '../../src/kube/client.js';
import type { Connection } from '../../src/kube/target.js';

let server: Server;
let client: KubeClient;
const BIG = 3 * 1024 * 1024 + 17;
let posts = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/big') {
      // A list-shaped body written in many chunks: metadata first, then items.
      res.writeHead(200, { 'content-type': 'application/json' });
      const head = '{"kind":"List","metadata":{"continue":"tok123","resourceVersion":"42"},"items":[';
      res.write(head);
      let left = BIG - head.length - 2;
      while (left > 0) {
        const n = Math.min(left, 60_000);
        res.write('x'.repeat(n));
        left -= n;
      }
      res.end(']}');
    } else if (req.url === '/denied') {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'no access for you' }));
    } else if (req.url === '/stream') {
      // Lines split across writes, an empty line, and a line cut in three.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"n":1}\n{"n"');
      setTimeout(() => res.write(':2}\n\n{"n":3,"pad":"'), 10);
      setTimeout(() => res.write('abc'), 20);
      setTimeout(() => res.end('def"}\n{"n":4}\n'), 30);
    } else if (req.url === '/throttled-stream') {
      res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' });
      res.end('{"kind":"Status","reason":"TooManyRequests"}');
    } else if (req.url === '/endless') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write('{"tick":true}\n'), 5);
      res.on('close', () => clearInterval(timer));
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('{}'), 5_000).unref();
    } else if (req.method === 'POST') {
      posts++;
      req.socket.destroy(); // a reset mid-write: must not be replayed
    } else {
      res.end('{"ok":true}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = new KubeClient(connectionTo(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), { connections: 4, timeoutMs: 10_000 });
});

afterAll(async () => {
  await client.close();
  server.close();
});

function connectionTo(url: string): Connection {
  return { server: new URL(url), context: 'test', local: false, tls: { rejectUnauthorized: true }, headers: {} };
}

describe('KubeClient', () => {
  it('keeps the whole body by default', async () => {
    const res = await client.send({ method: 'GET', path: '/big' });
    expect(res.status).toBe(200);
    expect(res.bytes).toBe(BIG);
    expect(res.body.length).toBe(BIG);
    expect(res.body.subarray(res.body.length - 2).toString()).toBe(']}');
  });

  it('count mode counts every byte but keeps only the head, where the list metadata is', async () => {
    const res = await client.send({ method: 'GET', path: '/big', read: 'count' });
    expect(res.bytes).toBe(BIG);
    expect(res.body.length).toBe(COUNTED_HEAD_BYTES);
    expect(res.body.toString()).toContain('"continue":"tok123"');
  });

  it('count mode keeps an error body whole, so the Status message reaches the error', async () => {
    const err = await client.expectOk({ method: 'GET', path: '/denied', read: 'count' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect((err as RequestError).errorClass).toBe('http-403');
    expect((err as RequestError).message).toContain('no access for you');
    expect((err as RequestError).reason).toBe('Forbidden');
  });

  it('classifies a request we abort as cancelled', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const err = await client.send({ method: 'GET', path: '/slow', signal: abort.signal }).catch((e: unknown) => e);
    expect((err as RequestError).errorClass).toBe('cancelled');
    const already = await client.send({ method: 'GET', path: '/', signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((already as RequestError).errorClass).toBe('cancelled');
  });

  it('classifies a timeout', async () => {
    const impatient = new KubeClient(client.connection, { connections: 1, timeoutMs: 100 });
    const err = await impatient.send({ method: 'GET', path: '/slow' }).catch((e: unknown) => e);
    await impatient.close();
    expect((err as RequestError).errorClass).toBe('timeout');
  });

  it('does not retry a write the connection dropped', async () => {
    const before = posts;
    const err = await client.send({ method: 'POST', path: '/create', body: '{}' }).catch((e: unknown) => e);
    expect((err as RequestError).errorClass).toBe('connection');
    expect(posts - before).toBe(1);
  });

  it('classifies a refused connection', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r)); // nothing listens there now
    const nowhere = new KubeClient(connectionTo(`http://127.0.0.1:${port}`), { connections: 1, timeoutMs: 2_000 });
    const err = await nowhere.send({ method: 'GET', path: '/' }).catch((e: unknown) => e);
    await nowhere.close();
    expect((err as RequestError).errorClass).toBe('connection');
  });

  it('streamLines hands over whole lines however the body is chunked', async () => {
    const lines: string[] = [];
    let started = 0;
    const res = await client.streamLines({ method: 'GET', path: '/stream' }, { onStart: (s) => (started = s), onLine: (l) => void lines.push(l.toString()) });
    expect(started).toBe(200);
    expect(res.stopped).toBe(false);
    expect(lines).toEqual(['{"n":1}', '{"n":2}', '{"n":3,"pad":"abcdef"}', '{"n":4}']);
    expect(res.bytes).toBe(Buffer.byteLength('{"n":1}\n{"n":2}\n\n{"n":3,"pad":"abcdef"}\n{"n":4}\n'));
  });

  it('streamLines returns an error status with its body and Retry-After, and no lines', async () => {
    const lines: Buffer[] = [];
    const res = await client.streamLines({ method: 'GET', path: '/throttled-stream' }, { onLine: (l) => void lines.push(l) });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body.toString()).toContain('TooManyRequests');
    expect(lines).toHaveLength(0);
  });

  it('streamLines stops when a line handler says so, and rejects with what a handler throws', async () => {
    let seen = 0;
    const res = await client.streamLines({ method: 'GET', path: '/endless' }, { onLine: () => ++seen < 3 });
    expect(res.stopped).toBe(true);
    expect(seen).toBe(3);
    const err = await client.streamLines({ method: 'GET', path: '/endless' }, { onLine: () => JSON.parse('{not json') as boolean }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyntaxError);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 30);
    const cancelled = await client.streamLines({ method: 'GET', path: '/endless', signal: abort.signal }, { onLine: () => true }).catch((e: unknown) => e);
    expect((cancelled as RequestError).errorClass).toBe('cancelled');
  });
});
