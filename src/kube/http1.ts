/**
 * A lean HTTP/1.1 client for the load's hot path: one request at a time on
 * each of N kept-alive TLS (or TCP) sockets, the request head written as one
 * string, the response parsed by a small state machine that counts body bytes
 * (Content-Length or chunked) and keeps only what the caller asks for.
 *
 * Why not undici here: on the benchmark's null server undici cost 26-40 µs of
 * CPU per request at 32 connections and 67-101 µs at one (its Request and
 * handler objects, llhttp in wasm, timers per request), this 18-24 µs (the rest
 * is TLS and the kernel); closed-loop throughput at one connection was 2.5-4x.
 * undici keeps everything else: HTTP/2, watches (streamed lines), and the
 * setup and cleanup requests.
 *
 * What it keeps of a transport's duties: status codes (classes are the
 * caller's), body bytes, headers of the response (lower-cased), errors with
 * the codes classifyError knows (`ECONNRESET` for a connection that ended
 * mid-response, `UND_ERR_HEADERS_TIMEOUT`/`UND_ERR_BODY_TIMEOUT`, the socket's
 * own errno), abort by signal (the connection is closed: HTTP/1.1 cannot
 * cancel a request otherwise), a connection the server closed while idle is
 * dropped before reuse, `Connection: close` honoured.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Http1Options {
  connections: number;
  /** Headers and body timeout, ms (a request with no bytes for this long fails). */
  timeoutMs: number;
  connectTimeoutMs: number;
  tls?: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string; rejectUnauthorized?: boolean; servername?: string };
}

export interface Http1Response {
  status: number;
  /** Parsed from the response head when first read (the hot path reads only status and bytes). */
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body, or its first `keep` bytes. */
  body: Buffer;
  /** Bytes of the whole body. */
  bytes: number;
  /** performance.now() when the response was complete (its last byte parsed). */
  receivedAt: number;
}

export interface Http1Request {
  method: string;
  /** Full path with query. */
  path: string;
  /** Header lines, each `name: value\r\n` (Host and Content-Length are added here). */
  headerLines: string;
  body?: string | Buffer;
  /** Body bytes to keep: a status-dependent limit (Infinity keeps all). */
  keep: (status: number) => number;
  signal?: AbortSignal;
}

/** An error with a code classifyError understands. */
export class Http1Error extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'Http1Error';
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');
/** Lower-case first letters of the head lines framing needs: content-length, connection, transfer-encoding. */
const LOWER_C = 0x63;
const LOWER_T = 0x74;

/** A response whose header object is built only when read (errors read Retry-After; counted reads never do). */
class LeanResponse implements Http1Response {
  private parsed: Record<string, string | string[] | undefined> | undefined;
  constructor(
    readonly status: number,
    /** The head after the status line, `name: value\r\n` lines. */
    private readonly headText: string,
    readonly body: Buffer,
    readonly bytes: number,
    readonly receivedAt: number,
  ) {}

  get headers(): Record<string, string | string[] | undefined> {
    return (this.parsed ??= parseHeaders(this.headText));
  }
}

/** Header lines into an object: names lower-cased, repeated names as arrays. */
function parseHeaders(text: string): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[name];
    headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return headers;
}
const CR = 0x0d;
const LF = 0x0a;
/** How often busy connections are checked against the timeout (one interval for all, not a timer per request). */
const SWEEP_MS = 1000;

interface Pending {
  req: Http1Request;
  resolve: (res: Http1Response) => void;
  reject: (err: unknown) => void;
}

/** One kept-alive socket and the response it is reading. */
class Connection {
  readonly socket: net.Socket;
  busy: Pending | undefined;
  dead = false;
  /** performance.now() of the last byte (or of the request's write). */
  lastActivity = 0;
  private readonly connected: Promise<void>;
  // Response state.
  private head: Buffer | undefined;
  private status = 0;
  private headText = '';
  private mode: 'head' | 'length' | 'chunked' | 'close' | 'done' = 'head';
  private remaining = 0;
  /** Chunked: bytes of the current chunk left, or -1 while reading a size line / -2 the CRLF after data / -3 trailers. */
  private chunkLeft = -1;
  private line: Buffer | undefined;
  private bytes = 0;
  private keepLimit = 0;
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private closeAfter = false;
  private onAbort: (() => void) | undefined;
  /** The signal `onAbort` listens to (see listen). */
  private listening: AbortSignal | undefined;
  /** The handshake is done: requests are written at once. */
  private ready = false;

  constructor(
    private readonly pool: Http1Pool,
    origin: URL,
    options: Http1Options,
  ) {
    const port = Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80);
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    if (origin.protocol === 'https:') {
      const t = options.tls ?? {};
      const servername = t.servername ?? (net.isIP(host) ? undefined : host);
      this.socket = tls.connect({ host, port, ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.rejectUnauthorized ?? true, servername, ALPNProtocols: ['http/1.1'] });
    } else {
      this.socket = net.connect({ host, port });
    }
    this.socket.setNoDelay(true);
    const event = origin.protocol === 'https:' ? 'secureConnect' : 'connect';
    this.connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new Http1Error(`connect to ${origin.host} timed out after ${options.connectTimeoutMs} ms`, 'UND_ERR_CONNECT_TIMEOUT');
        this.socket.destroy(err);
        reject(err);
      }, options.connectTimeoutMs);
      this.socket.once(event, () => {
        clearTimeout(timer);
        this.ready = true;
        resolve();
      });
      this.socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    this.connected.catch(() => {}); // observed by the first request
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Http1Error('the server closed the connection', 'ECONNRESET')));
  }

  /**
   * Writes the request. Synchronous on a connected socket (no promise, no
   * microtask between the caller and the write); the first request on a new
   * connection waits for the handshake.
   */
  send(p: Pending): void {
    this.busy = p;
    this.reset();
    this.lastActivity = performance.now();
    const signal = p.req.signal;
    if (signal) {
      if (signal.aborted) return this.fail(abortError(signal));
      if (signal !== this.listening) this.listen(signal);
    }
    if (this.ready) return this.write(p.req);
    this.connected.then(
      () => {
        if (this.busy === p) this.write(p.req); // else aborted while connecting
      },
      (err: unknown) => this.fail(err),
    );
  }

  private write(req: Http1Request): void {
    const body = req.body;
    const length = body === undefined ? (req.method === 'GET' || req.method === 'DELETE' ? '' : 'content-length: 0\r\n') : `content-length: ${Buffer.byteLength(body)}\r\n`;
    const head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${this.pool.host}\r\n${req.headerLines}${length}\r\n`;
    if (body === undefined) this.socket.write(head, 'latin1');
    else if (typeof body === 'string') this.socket.write(head + body, 'utf8');
    else {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    }
  }

  /**
   * One abort listener per connection and signal, kept across requests (a
   * run's requests share their phase's signal; adding and removing an
   * EventTarget listener per request cost more than the parse). It fails the
   * request in flight only if that request carries this signal.
   */
  private listen(signal: AbortSignal): void {
    this.unlisten();
    const onAbort = () => {
      if (this.busy && this.busy.req.signal === signal) this.fail(abortError(signal));
    };
    signal.addEventListener('abort', onAbort);
    this.listening = signal;
    this.onAbort = onAbort;
  }

  private unlisten(): void {
    if (this.listening && this.onAbort) this.listening.removeEventListener('abort', this.onAbort);
    this.listening = undefined;
    this.onAbort = undefined;
  }

  private reset(): void {
    this.head = undefined;
    this.status = 0;
    this.headText = '';
    this.mode = 'head';
    this.remaining = 0;
    this.chunkLeft = -1;
    this.line = undefined;
    this.bytes = 0;
    this.kept = [];
    this.keptBytes = 0;
    this.closeAfter = false;
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = performance.now();
    if (!this.busy) {
      // Bytes nobody asked for: the connection is out of step; never reuse it.
      this.socket.destroy();
      return;
    }
    try {
      if (this.mode === 'head') {
        const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
        const end = buf.indexOf(CRLF2);
        if (end < 0) {
          if (buf.length > 64 * 1024) throw new Http1Error('response head larger than 64 KiB', 'UND_ERR_SOCKET');
          this.head = buf;
          return;
        }
        this.head = undefined;
        this.parseHead(buf.toString('latin1', 0, end));
        if (this.status < 200) {
          // 1xx (e.g. 100 Continue): an interim head, then the real one.
          this.mode = 'head';
          if (buf.length > end + 4) this.onData(buf.subarray(end + 4));
          return;
        }
        this.onBody(buf.subarray(end + 4));
      } else {
        this.onBody(chunk);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * The status line and the three headers framing needs (Content-Length,
   * Transfer-Encoding, Connection); the rest stays text until someone reads
   * `headers`. Lines are told apart by length and first letter before any
   * slicing: a response of ten headers costs no header object and no
   * lower-casing of names that do not matter here.
   */
  private parseHead(text: string): void {
    // "HTTP/1.1 200 OK"
    if (!text.startsWith('HTTP/1.')) throw new Http1Error(`not an HTTP/1.x response: ${JSON.stringify(text.slice(0, 40))}`, 'UND_ERR_SOCKET');
    this.status = Number(text.slice(9, 12));
    let te: string | undefined;
    let cl: string | undefined;
    let conn: string | undefined;
    const firstEnd = text.indexOf('\r\n');
    let from = firstEnd < 0 ? text.length : firstEnd + 2;
    this.headText = text.slice(from);
    while (from < text.length) {
      const next = text.indexOf('\r\n', from);
      const end = next < 0 ? text.length : next;
      const first = text.charCodeAt(from) | 0x20;
      if (first === LOWER_C || first === LOWER_T) {
        const colon = text.indexOf(':', from);
        if (colon > from && colon < end) {
          const n = colon - from;
          if (n === 14 || n === 10 || n === 17) {
            const name = text.slice(from, colon).toLowerCase();
            const value = text.slice(colon + 1, end).trim();
            if (name === 'content-length') cl = cl === undefined ? value : `${cl},${value}`;
            else if (name === 'connection') conn = value;
            else if (name === 'transfer-encoding') te = value;
          }
        }
      }
      from = end + 2;
    }
    this.closeAfter = conn !== undefined && conn.toLowerCase() === 'close';
    const req = this.busy!.req;
    this.keepLimit = req.keep(this.status);
    const noBody = this.status === 204 || this.status === 304 || req.method === 'HEAD';
    if (noBody) {
      this.mode = 'length';
      this.remaining = 0;
    } else if (te !== undefined && te.toLowerCase().includes('chunked')) {
      this.mode = 'chunked';
      this.chunkLeft = -1;
    } else if (cl !== undefined) {
      this.mode = 'length';
      this.remaining = Number(cl);
      if (!Number.isSafeInteger(this.remaining) || this.remaining < 0) throw new Http1Error(`bad content-length ${cl}`, 'UND_ERR_SOCKET');
    } else {
      this.mode = 'close';
      this.closeAfter = true;
    }
  }

  private take(data: Buffer): void {
    this.bytes += data.length;
    if (this.keptBytes >= this.keepLimit || data.length === 0) return;
    const part = this.keptBytes + data.length <= this.keepLimit ? data : data.subarray(0, this.keepLimit - this.keptBytes);
    this.kept.push(part);
    this.keptBytes += part.length;
  }

  private onBody(data: Buffer): void {
    switch (this.mode) {
      case 'length': {
        const n = Math.min(this.remaining, data.length);
        this.take(n === data.length ? data : data.subarray(0, n));
        this.remaining -= n;
        if (this.remaining === 0) {
          if (data.length > n) this.closeAfter = true; // bytes past the body: out of step
          this.complete();
        }
        return;
      }
      case 'chunked':
        return this.onChunked(data);
      case 'close':
        this.take(data);
        return;
      default:
        return;
    }
  }

  /** Chunked transfer coding: `size[;ext]\r\n data \r\n` ... `0\r\n [trailers] \r\n`. */
  private onChunked(data: Buffer): void {
    let i = 0;
    while (i < data.length) {
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, data.length - i);
        this.take(data.subarray(i, i + n));
        this.chunkLeft -= n;
        i += n;
        if (this.chunkLeft === 0) this.chunkLeft = -2;
        continue;
      }
      // A line: the size line (-1), the CRLF after data (-2) or a trailer line (-3).
      const nl = data.indexOf(LF, i);
      const piece = data.subarray(i, nl < 0 ? data.length : nl + 1);
      const line = this.line ? Buffer.concat([this.line, piece]) : piece;
      if (nl < 0) {
        if (line.length > 8192) throw new Http1Error('chunk size line too long', 'UND_ERR_SOCKET');
        this.line = line;
        return;
      }
      this.line = undefined;
      i = nl + 1;
      const end = line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1;
      if (this.chunkLeft === -2) {
        if (end !== 0) throw new Http1Error('chunk data not followed by CRLF', 'UND_ERR_SOCKET');
        this.chunkLeft = -1;
      } else if (this.chunkLeft === -1) {
        const text = line.toString('latin1', 0, end);
        const size = parseInt(text, 16);
        if (!Number.isFinite(size) || size < 0) throw new Http1Error(`bad chunk size ${JSON.stringify(text.slice(0, 20))}`, 'UND_ERR_SOCKET');
        this.chunkLeft = size === 0 ? -3 : size;
      } else if (end === 0) {
        // The empty line after the trailers: the body is done.
        if (i < data.length) this.closeAfter = true;
        this.complete();
        return;
      }
    }
  }

  private complete(): void {
    const p = this.busy;
    if (!p) return;
    this.busy = undefined;
    this.mode = 'done';
    const body = this.kept.length === 1 ? this.kept[0]! : Buffer.concat(this.kept, this.keptBytes);
    const res = new LeanResponse(this.status, this.headText, body, this.bytes, performance.now());
    this.kept = [];
    if (this.closeAfter) {
      this.dead = true;
      this.socket.destroy();
    }
    this.pool.release(this);
    p.resolve(res);
  }

  /** The connection is done for: the request on it (if any) fails with `err`. */
  fail(err: unknown): void {
    const p = this.busy;
    if (p && this.mode === 'close' && !(err instanceof Error && err.name === 'AbortError')) {
      // A body delimited by the connection's end: the end completes it.
      if (err instanceof Http1Error && err.code === 'ECONNRESET') {
        this.closeAfter = true;
        this.complete();
        return;
      }
    }
    const wasDead = this.dead;
    this.dead = true;
    this.busy = undefined;
    this.unlisten();
    if (!this.socket.destroyed) this.socket.destroy();
    if (!wasDead) this.pool.release(this);
    if (p) p.reject(err);
  }

  /** The timeout sweep: fails a request that saw no bytes for `timeoutMs`. */
  checkTimeout(now: number, timeoutMs: number): void {
    if (!this.busy || now - this.lastActivity < timeoutMs) return;
    const headers = this.mode === 'head';
    this.fail(new Http1Error(`no ${headers ? 'response headers' : 'body bytes'} for ${timeoutMs} ms`, headers ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT'));
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'This operation was aborted');
  err.name = 'AbortError';
  return err;
}

/** Up to `connections` sockets to one origin; requests wait (FIFO) for a free one. */
export class Http1Pool {
  readonly host: string;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Pending[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly origin: URL,
    private readonly options: Http1Options,
  ) {
    this.host = origin.host;
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.all) c.checkTimeout(now, this.options.timeoutMs);
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  request(req: Http1Request): Promise<Http1Response> {
    return new Promise<Http1Response>((resolve, reject) => {
      if (this.closed) return reject(new Http1Error('the client is closed', 'UND_ERR_CLOSED'));
      const p: Pending = { req, resolve, reject };
      const c = this.take();
      if (c) return void c.send(p);
      this.queue.push(p);
      // A request still waiting for a connection fails at once when aborted.
      const signal = req.signal;
      if (signal) {
        const onAbort = () => {
          const i = this.queue.indexOf(p);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(abortError(signal));
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = () => signal.removeEventListener('abort', onAbort);
        p.resolve = (res) => (settle(), resolve(res));
        p.reject = (err) => (settle(), reject(err));
      }
    });
  }

  private take(): Connection | undefined {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      // A socket the server closed while it was idle is not reused.
      if (!c.dead && !c.socket.destroyed && c.socket.readyState === 'open') return c;
      this.all.delete(c);
    }
    if (this.all.size < this.options.connections) {
      const c = new Connection(this, this.origin, this.options);
      this.all.add(c);
      return c;
    }
    return undefined;
  }

  /** A connection finished its request (or died): the next waiting request gets a connection. */
  release(c: Connection): void {
    if (c.dead) this.all.delete(c);
    else this.idle.push(c);
    while (this.queue.length > 0) {
      const p = this.queue[0]!;
      if (p.req.signal?.aborted) {
        this.queue.shift();
        p.reject(abortError(p.req.signal));
        continue;
      }
      const next = this.take();
      if (!next) return;
      this.queue.shift();
      void next.send(p);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const p of this.queue.splice(0)) p.reject(new Http1Error('the client is closed', 'UND_ERR_CLOSED'));
    for (const c of this.all) c.fail(new Http1Error('the client is closed', 'UND_ERR_CLOSED'));
    this.all.clear();
  }
}
