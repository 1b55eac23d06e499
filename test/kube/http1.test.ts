/**
 * The lean HTTP/1.1 client (src/kube/http1.ts) against a raw TCP server that
 * writes exact bytes: Content-Length and chunked bodies however they are split,
 * bodies ended by the connection's close, 1xx heads, keep-alive reuse, a
 * connection the server closed while idle, timeouts, aborts and the error
 * codes the engine classifies. (The real API server speaks to it in
 * test/integration: HTTP/1.1 counted reads go through it.)
 */
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Pool, type Http1Request } from '../../src/kube/http1.js';
import { classifyError } from '../../src/kube/errors.js';

/** What the server answers per path: pieces written with a short pause between them. */
const ROUTES: Record<string, { pieces: (string | Buffer)[]; close?: boolean; never?: boolean }> = {
  '/length': { pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{"a":', '12345}'] },
  '/chunked': { pieces: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', 'lo\r\n', '6;ext=1\r\n world\r', '\n0\r\n', 'X-Trailer: 1\r\n\r\n'] },
  '/split-head': { pieces: ['HTTP/1.1 404 Not Found\r\nConte', 'nt-Length: 2\r\nRetry-After: 3\r\n', '\r\n{}'] },
  '/interim': { pieces: ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok'] },
  '/until-close': { pieces: ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of ', 'this'], close: true },
  '/close-after': { pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz'] },
  '/cut': { pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'], close: true },
  '/silent': { pieces: [], never: true },
};

let server: net.Server;
let origin: URL;
let connections = 0;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', async (d) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        buffered = buffered.slice(length); // request bodies are not checked here
        const path = head.split(' ')[1]!;
        const route = ROUTES[path] ?? { pieces: [`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(path)}\r\n\r\n${path}`] };
        if (route.never) continue;
        for (const piece of route.pieces) {
          socket.write(piece);
          await new Promise((r) => setTimeout(r, 2));
        }
        if (route.close) socket.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

const get = (path: string, extra: Partial<Http1Request> = {}): Http1Request => ({ method: 'GET', path, headerLines: 'accept: application/json\r\n', keep: () => Infinity, ...extra });
const pool = (options: { connections?: number; timeoutMs?: number } = {}) => new Http1Pool(origin, { connections: options.connections ?? 2, timeoutMs: options.timeoutMs ?? 5_000, connectTimeoutMs: 2_000 });

describe('Http1Pool', () => {
  it('reads Content-Length bodies and chunked bodies split anywhere, counting every byte', async () => {
    const p = pool();
    const sent = performance.now();
    const a = await p.request(get('/length'));
    // Stamped when the last byte was parsed (the load models end the latency there).
    expect(a.receivedAt).toBeGreaterThan(sent);
    expect(a.receivedAt).toBeLessThanOrEqual(performance.now());
    expect([a.status, a.body.toString(), a.bytes, a.headers['content-type']]).toEqual([200, '{"a":12345}', 11, 'application/json']);
    const b = await p.request(get('/chunked'));
    expect([b.status, b.body.toString(), b.bytes]).toEqual([200, 'hello world', 11]);
    const c = await p.request(get('/split-head'));
    expect([c.status, c.body.toString(), c.headers['retry-after']]).toEqual([404, '{}', '3']);
    p.close();
  });

  it('keeps only what `keep` allows but counts the whole body', async () => {
    const p = pool();
    const r = await p.request(get('/chunked', { keep: (status) => (status === 200 ? 4 : Infinity) }));
    expect([r.body.toString(), r.bytes]).toEqual(['hell', 11]);
    p.close();
  });

  it('skips a 1xx head and reads the final response', async () => {
    const p = pool();
    const r = await p.request(get('/interim'));
    expect([r.status, r.body.toString()]).toEqual([201, 'ok']);
    p.close();
  });

  it('reuses a kept-alive connection; a body ended by close, and Connection: close, open a new one', async () => {
    const p = pool({ connections: 1 });
    const before = connections;
    for (let i = 0; i < 5; i++) expect((await p.request(get(`/n${i}`))).body.toString()).toBe(`/n${i}`);
    expect(connections - before).toBe(1);
    const r = await p.request(get('/until-close'));
    expect(r.body.toString()).toBe('all of this');
    expect((await p.request(get('/close-after'))).body.toString()).toBe('z');
    expect((await p.request(get('/again'))).body.toString()).toBe('/again');
    expect(connections - before).toBe(3);
    p.close();
  });

  it('does not reuse a connection the server closed while it was idle', async () => {
    const p = pool({ connections: 1 });
    await p.request(get('/first'));
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect((await p.request(get('/second'))).body.toString()).toBe('/second');
    p.close();
  });

  it('queues requests beyond its connections and answers them all', async () => {
    const p = pool({ connections: 2 });
    const before = connections;
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => p.request(get(`/q${i}`))));
    expect(all.map((r) => r.body.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `/q${i}`));
    expect(connections - before).toBe(2);
    p.close();
  });

  it('fails a body cut short as a connection error, a silent server as a timeout, an abort as cancelled', async () => {
    const p = pool({ connections: 1, timeoutMs: 300 });
    const cut = await p.request(get('/cut')).catch((e: unknown) => e);
    expect(classifyError(cut)).toBe('connection');
    const silent = await p.request(get('/silent')).catch((e: unknown) => e);
    expect((silent as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(classifyError(silent)).toBe('timeout');
    const ac = new AbortController();
    const pending = p.request(get('/silent', { signal: ac.signal }));
    // A second request waits for the one connection; aborting it fails it at once.
    const queued = new AbortController();
    const waiting = p.request(get('/never-sent', { signal: queued.signal }));
    queued.abort();
    expect(classifyError(await waiting.catch((e: unknown) => e))).toBe('cancelled');
    ac.abort();
    expect(classifyError(await pending.catch((e: unknown) => e))).toBe('cancelled');
    expect((await p.request(get('/after'))).body.toString()).toBe('/after');
    p.close();
  });

  it("a signal's abort cancels only the request carrying it, on a connection that listened to it before", async () => {
    const p = pool({ connections: 1, timeoutMs: 2_000 });
    const before = connections;
    const a = new AbortController();
    for (let i = 0; i < 3; i++) expect((await p.request(get(`/a${i}`, { signal: a.signal }))).body.toString()).toBe(`/a${i}`);
    const b = new AbortController();
    const pending = p.request(get('/silent', { signal: b.signal }));
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    a.abort(); // the connection listened to `a` for earlier requests: the one in flight carries `b`
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false);
    b.abort();
    expect(classifyError(await pending.catch((e: unknown) => e))).toBe('cancelled');
    expect(connections - before).toBe(1);
    // An abort while the connection is idle leaves it usable.
    const c = new AbortController();
    expect((await p.request(get('/c1', { signal: c.signal }))).body.toString()).toBe('/c1');
    const n = connections;
    c.abort();
    expect((await p.request(get('/c2'))).body.toString()).toBe('/c2');
    expect(connections).toBe(n);
    p.close();
  });

  it('frames by Content-Length, Transfer-Encoding and Connection whatever their case, among other c- and t- headers', async () => {
    ROUTES['/cases'] = { pieces: ['HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\ncontent-TYPE: text/plain\r\nTrailer: x\r\nCONTENT-LENGTH: 3\r\nconnection: CLOSE\r\n\r\nabc'] };
    const p = pool({ connections: 1 });
    const before = connections;
    const r = await p.request(get('/cases'));
    expect([r.status, r.body.toString(), r.bytes, r.headers['content-type'], r.headers['cache-control']]).toEqual([200, 'abc', 3, 'text/plain', 'no-cache']);
    expect((await p.request(get('/next'))).body.toString()).toBe('/next');
    expect(connections - before).toBe(2); // Connection: close was honoured
    p.close();
  });

  it('classifies a refused connection', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const p = new Http1Pool(new URL(`http://127.0.0.1:${port}`), { connections: 1, timeoutMs: 1_000, connectTimeoutMs: 1_000 });
    const err = await p.request(get('/x')).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(classifyError(err)).toBe('connection');
    p.close();
  });
});
