/**
 * The HTTP transport to one API server: an undici Pool with keep-alive and a
 * connection count set apart from concurrency. Errors are typed so the engine
 * can classify them without string matching.
 */
import { Pool, type Dispatcher } from 'undici';
import type { ErrorClass } from '../types/results.js';
import { classifyError, classifyStatus } from './errors.js';
import { Http1Pool } from './http1.js';
import type { Connection } from './target.js';

export interface ClientOptions {
  /** Connections kept to the server (HTTP/1.1: the cap on parallel requests). */
  connections: number;
  /** Negotiate HTTP/2 via ALPN (the API server allows 100 streams per connection by default). */
  http2?: boolean;
  /** Per-request timeout for headers and body, milliseconds. */
  timeoutMs?: number;
  /** HTTP/2: concurrent streams per connection (undici's default is 100). */
  maxStreams?: number;
  /** How often changing credentials are re-read (Connection.refreshHeaders), ms; default 5 s. */
  credentialRefreshMs?: number;
  /**
   * HTTP/1.1: send counted reads (`read: 'count'`, the load's get/list/
   * discovery/openapi/patch requests) through the lean client of http1.ts
   * instead of undici (default true; undici keeps HTTP/2, watches and the rest).
   */
  leanHttp1?: boolean;
}

export interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /**
   * `body` (default) keeps the whole response body. `count` counts its bytes and
   * keeps only the first COUNTED_HEAD_BYTES of a 2xx body (where a list's
   * `metadata.continue` and `resourceVersion` are) and at most ERROR_BODY_BYTES
   * of an error body: a 171 MB OpenAPI document is measured without being held.
   */
  read?: 'body' | 'count';
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The whole body, or its head when the request was sent with `read: 'count'`. */
  body: Buffer;
  /** Bytes received in the body (always the whole body's length). */
  bytes: number;
  /** performance.now() when the last byte of the response was read (IterationOutcome.endedAt). */
  receivedAt?: number;
}

/** Head of a counted body that is kept: a list's metadata comes before its items. */
export const COUNTED_HEAD_BYTES = 4096;
/** Kept of an error body in count mode (a Status is well under this). */
const ERROR_BODY_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
/** What a counted read keeps of a body, by status (see Request.read). */
const countedKeep = (status: number): number => (status >= 200 && status < 300 ? COUNTED_HEAD_BYTES : ERROR_BODY_BYTES);

/** A request that did not produce an HTTP response, or one with a failing status. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly errorClass: ErrorClass,
    readonly status?: number,
    readonly body?: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = 'RequestError';
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** The server's Retry-After on a 429 (or 503), seconds. */
  readonly retryAfterSeconds: number | undefined;

  /** The `reason` of a Kubernetes Status body, e.g. AlreadyExists, NotFound. */
  get reason(): string | undefined {
    if (!this.body) return undefined;
    try {
      return (JSON.parse(this.body) as { reason?: string }).reason;
    } catch {
      return undefined;
    }
  }
}

export const JSON_HEADERS = Object.freeze({ accept: 'application/json', 'content-type': 'application/json' });

export class KubeClient {
  readonly pool: Pool;
  private baseHeaders: Readonly<Record<string, string>>;
  /** Header objects handed out by `headers()`, updated in place when credentials change. */
  private readonly issued: WeakRef<Record<string, string>>[] = [];
  private readonly defaultHeaders: Record<string, string>;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** Times the credential headers changed during the run. */
  credentialChanges = 0;
  /** Called with the new credential headers whenever they change (`run --threads` forwards them to the workers). */
  readonly onCredentialsChanged = new Set<(headers: Readonly<Record<string, string>>) => void>();
  private readonly timeoutMs: number;
  private readonly pathPrefix: string;
  /** The hot path's HTTP/1.1 client (see ClientOptions.leanHttp1), when used. */
  readonly lean: Http1Pool | undefined;
  /** Header objects as HTTP/1.1 header lines, rebuilt when the credentials change. */
  private readonly headerLines = new WeakMap<Record<string, string>, { version: number; lines: string }>();

  constructor(
    readonly connection: Connection,
    options: ClientOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.pool = new Pool(connection.server.origin, {
      connections: options.connections,
      allowH2: options.http2 ?? false,
      ...(options.maxStreams !== undefined ? { h2Options: { maxConcurrentStreams: options.maxStreams } } : {}),
      pipelining: 1,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        ca: connection.tls.ca,
        cert: connection.tls.cert,
        key: connection.tls.key,
        rejectUnauthorized: connection.tls.rejectUnauthorized,
        servername: connection.tls.servername,
        timeout: Math.min(this.timeoutMs, 10_000),
      },
    });
    if (!(options.http2 ?? false) && (options.leanHttp1 ?? true)) {
      this.lean = new Http1Pool(connection.server, {
        connections: options.connections,
        timeoutMs: this.timeoutMs,
        connectTimeoutMs: Math.min(this.timeoutMs, 10_000),
        tls: { ca: connection.tls.ca, cert: connection.tls.cert, key: connection.tls.key, rejectUnauthorized: connection.tls.rejectUnauthorized, servername: connection.tls.servername },
      });
    }
    this.baseHeaders = Object.freeze({ ...connection.headers, 'user-agent': 'asa-bench' });
    this.defaultHeaders = this.headers(JSON_HEADERS);
    if (connection.refreshHeaders) {
      // Prebuilt requests keep their header objects; a new token is written into them in place.
      // Exec plugins report an expiry a minute or more before the server stops accepting the
      // token, so a check every few seconds swaps it before requests fail.
      this.refreshTimer = setInterval(() => void this.refreshCredentials(), options.credentialRefreshMs ?? 5_000);
      this.refreshTimer.unref();
    }
    // A server URL with a path (e.g. a Rancher proxy, https://host/k8s/clusters/c-x) prefixes every request.
    this.pathPrefix = connection.server.pathname.replace(/\/+$/, '');
  }

  /** The full request path on this server (see pathPrefix). */
  fullPath(path: string): string {
    return this.pathPrefix + path;
  }

  /** Merges the credential headers once, for requests built ahead of the hot loop. */
  headers(extra: Record<string, string>): Record<string, string> {
    const headers = { ...this.baseHeaders, ...extra };
    if (this.connection.refreshHeaders) this.issued.push(new WeakRef(headers));
    return headers;
  }

  /** Re-reads changing credentials (one at a time) and writes changed values into every header object handed out. */
  refreshCredentials(): Promise<void> {
    const refresh = this.connection.refreshHeaders;
    if (!refresh) return Promise.resolve();
    this.refreshing ??= (async () => {
      try {
        const fresh = await refresh();
        const changed = Object.entries(fresh).filter(([k, v]) => this.baseHeaders[k] !== v);
        if (changed.length === 0) return;
        this.credentialChanges++;
        const previous = this.baseHeaders;
        this.baseHeaders = Object.freeze({ ...previous, ...fresh });
        let live = 0;
        for (const ref of this.issued) {
          const h = ref.deref();
          if (!h) continue;
          // Only where the request still carries the old value (an explicit override stays).
          for (const [k, v] of changed) if (h[k] === previous[k]) h[k] = v;
          this.issued[live++] = ref;
        }
        this.issued.length = live;
        for (const listener of this.onCredentialsChanged) listener(fresh);
      } catch {
        // Keep the current credentials; the next tick tries again, and failing requests say 401.
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Sends a request and reads the whole body. Never throws on HTTP status. */
  async send(req: Request): Promise<Response> {
    try {
      return await this.sendOnce(req);
    } catch (err) {
      // A kept-alive connection the server closed (idle timeout, GOAWAY, restart) fails the
      // request written onto it. Retrying is safe only for idempotent reads; writes are not
      // retried (the server may have applied them). Every retry is counted.
      let last: unknown = err;
      // Up to 3 times: on HTTP/2 a GOAWAY can hit the retry too (undici replays a refused
      // stream once itself, then fails it with "GOAWAY frame received", UND_ERR_INFO/SOCKET).
      for (let attempt = 0; attempt < 3; attempt++) {
        if (req.method !== 'GET' || !(last instanceof RequestError) || !isResetOfReusedConnection(last) || req.signal?.aborted) throw last;
        this.retries++;
        try {
          return await this.sendOnce(req);
        } catch (again) {
          last = again;
        }
      }
      throw last;
    }
  }

  /** Retries of idempotent requests after a connection reset (see `send`). */
  retries = 0;

  /**
   * One request through undici's `dispatch()`: no response stream object per
   * request (the `request()` API builds a Readable for every body), chunks are
   * counted and kept only as `req.read` asks.
   */
  private sendOnce(req: Request): Promise<Response> {
    const countOnly = req.read === 'count';
    if (countOnly && this.lean) return this.sendLean(req, this.lean);
    let keepLimit = Infinity;
    const chunks: Buffer[] = [];
    let kept = 0;
    return this.exchange(req, {
      start: (status) => {
        keepLimit = !countOnly ? Infinity : status >= 200 && status < 300 ? COUNTED_HEAD_BYTES : ERROR_BODY_BYTES;
      },
      data: (chunk) => {
        if (kept >= keepLimit) return;
        const part = kept + chunk.length <= keepLimit ? chunk : chunk.subarray(0, keepLimit - kept);
        chunks.push(part);
        kept += part.length;
      },
      end: (status, headers, bytes) => ({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept), bytes, receivedAt: performance.now() }),
    });
  }

  /** A counted read through the lean HTTP/1.1 client: the same Response, errors and 401 refresh as `exchange`. */
  private sendLean(req: Request, lean: Http1Pool): Promise<Response> {
    return lean.request({ method: req.method, path: this.fullPath(req.path), headerLines: this.linesOf(req.headers ?? this.defaultHeaders), body: req.body, keep: countedKeep, signal: req.signal }).then(
      (res) => {
        if (res.status === 401) void this.refreshCredentials();
        return res;
      },
      (err: unknown) => {
        throw new RequestError(`${req.method} ${req.path}: ${(err as Error).message}`, classifyError(err), undefined, undefined, { cause: err });
      },
    );
  }

  /** `name: value\r\n` lines of a header object, cached until the credentials change. */
  private linesOf(headers: Record<string, string>): string {
    const cached = this.headerLines.get(headers);
    if (cached && cached.version === this.credentialChanges) return cached.lines;
    let lines = '';
    for (const [name, value] of Object.entries(headers)) {
      // A header with a line break would split the request (undici refuses them too).
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new RequestError(`header ${name}: line breaks are not allowed`, 'protocol');
      lines += `${name}: ${value}\r\n`;
    }
    this.headerLines.set(headers, { version: this.credentialChanges, lines });
    return lines;
  }

  /**
   * A long-running GET (a watch) whose body is handed over line by line as
   * Buffers (newline-delimited JSON), without a response stream object: 10,000
   * open watches each cost only their HTTP/2 stream and a partial line.
   * Resolves when the server ends the response; a non-2xx response resolves
   * with its status and (small) body and no lines. `onLine` returning false
   * ends the stream (resolves with `stopped`; a throw rejects with it). Rejects
   * with a RequestError on transport failures, including our own abort
   * (`cancelled`).
   */
  streamLines(
    req: Omit<Request, 'read' | 'body'>,
    handlers: { onStart?: (status: number) => void; onLine: (line: Buffer) => boolean | void },
  ): Promise<Response & { stopped: boolean }> {
    let ok = false;
    let partial: Buffer | undefined;
    const errorBody: Buffer[] = [];
    let errorBytes = 0;
    let stopped = false;
    return this.exchange(req, {
      start: (status) => {
        ok = status >= 200 && status < 300;
        handlers.onStart?.(status);
      },
      data: (chunk, stop) => {
        if (!ok) {
          errorBytes += chunk.length;
          if (errorBytes <= ERROR_BODY_BYTES) errorBody.push(chunk);
          return;
        }
        if (stopped) return;
        let from = 0;
        let nl: number;
        while ((nl = chunk.indexOf(NEWLINE, from)) >= 0) {
          const piece = chunk.subarray(from, nl);
          const line = partial ? Buffer.concat([partial, piece]) : piece;
          partial = undefined;
          from = nl + 1;
          if (line.length === 0) continue;
          let more: boolean | void;
          try {
            more = handlers.onLine(line);
          } catch (err) {
            stopped = true;
            stop(err); // rejects with what the handler threw
            return;
          }
          if (more === false) {
            stopped = true;
            stop(); // ends the stream, resolves
            return;
          }
        }
        if (from < chunk.length) {
          // Copy the tail: holding a subarray would pin the whole chunk until the next newline.
          const rest = Buffer.from(chunk.subarray(from));
          partial = partial ? Buffer.concat([partial, rest]) : rest;
        }
      },
      end: (status, headers, bytes) => ({ status, headers, body: Buffer.concat(errorBody), bytes, stopped }),
    });
  }

  /**
   * The dispatch both ways of reading share: abort on the request's signal,
   * a 401 triggers a credential refresh, transport failures become
   * RequestErrors. The sink sees the status and every chunk; `stop()` ends the
   * exchange early and resolves with what the sink has, `stop(err)` rejects
   * with `err` itself.
   */
  private exchange<T>(
    req: Omit<Request, 'read'>,
    sink: {
      start: (status: number) => void;
      data: (chunk: Buffer, stop: (err?: unknown) => void) => void;
      end: (status: number, headers: Response['headers'], bytes: number) => T;
    },
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const signal = req.signal;
      let started = false;
      const fail = (err: unknown) =>
        reject(new RequestError(`${req.method} ${req.path}: ${started ? 'reading body: ' : ''}${(err as Error).message}`, classifyError(err), undefined, undefined, { cause: err }));
      if (signal?.aborted) return fail(abortReason(signal));
      let status = 0;
      let headers: Response['headers'] = {};
      let bytes = 0;
      /** Set when the sink stopped the exchange: `{ err }` rejects with err, `{}` resolves. */
      let stoppedBySink: { err?: unknown } | undefined;
      let controller: Dispatcher.DispatchController | undefined;
      const onAbort = () => controller?.abort(abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      try {
        this.pool.dispatch(
          { method: req.method, path: this.fullPath(req.path), headers: req.headers ?? this.defaultHeaders, body: req.body ?? null, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs },
          {
            onRequestStart: (c) => {
              controller = c;
              if (signal?.aborted) c.abort(abortReason(signal));
            },
            onResponseStart: (_c, statusCode, responseHeaders) => {
              // An expired token: fetch a fresh one for the requests after this one (this one counts as 401).
              if (statusCode === 401) void this.refreshCredentials();
              status = statusCode;
              headers = responseHeaders as Response['headers'];
              started = true;
              sink.start(statusCode);
            },
            onResponseData: (c, chunk) => {
              bytes += chunk.length;
              sink.data(chunk, (err?: unknown) => {
                stoppedBySink = err === undefined ? {} : { err };
                c.abort(new StreamStopped());
              });
            },
            onResponseEnd: () => {
              done();
              resolve(sink.end(status, headers, bytes));
            },
            onResponseError: (_c, err) => {
              done();
              if (stoppedBySink?.err !== undefined) reject(stoppedBySink.err);
              else if (stoppedBySink) resolve(sink.end(status, headers, bytes));
              else fail(err);
            },
          },
        );
      } catch (err) {
        done();
        fail(err);
      }
    });
  }

  /** Sends and fails on a non-2xx status with the server's Status message. */
  async expectOk(req: Request): Promise<Response> {
    return throwUnlessOk(req, await this.send(req));
  }

  async getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.expectOk({ method: 'GET', path, headers: this.headers(JSON_HEADERS), signal });
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  async sendJson<T>(method: Request['method'], path: string, body: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.expectOk({
      method,
      path,
      headers: this.headers({ accept: 'application/json', 'content-type': contentType }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    this.lean?.close();
    await this.pool.close().catch(() => this.pool.destroy());
  }
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_STREAM_ERROR']);
/** undici's InformationalError is generic; only its GOAWAY form means "resend elsewhere". */
const GOAWAY = /GOAWAY/;

/** The response, or a RequestError with the server's Status message for a failing status. */
export function throwUnlessOk<R extends Response>(req: Pick<Request, 'method' | 'path'>, res: R): R {
  const cls = classifyStatus(res.status);
  if (cls !== undefined) {
    const text = res.body.toString('utf8');
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not a Status body; keep the raw text
    }
    const retryAfter = Number(res.headers['retry-after']);
    throw new RequestError(`${req.method} ${req.path}: HTTP ${res.status}: ${message}`, cls, res.status, text, Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : undefined);
  }
  return res;
}

/** Our own end of a stream the consumer asked to stop (not a failure). */
class StreamStopped extends Error {
  override name = 'StreamStopped';
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'This operation was aborted');
  err.name = 'AbortError';
  return err;
}

function isResetOfReusedConnection(err: RequestError): boolean {
  let e: unknown = err.cause;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: string }).code;
    if (code && RESET_CODES.has(code)) return true;
    if (code === 'UND_ERR_INFO' && GOAWAY.test((e as Error).message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
