/**
 * The HTTP transport to one API server: an undici Pool with keep-alive and a
 * connection count set apart from concurrency. Errors are typed so the engine
 * can classify them without string matching.
 */
import { Pool, type Dispatcher } from 'undici';
import type { ErrorClass } from '../metrics/errors.js';
import { classifyError, classifyStatus } from '../metrics/errors.js';
import type { Connection } from './target.js';

export interface ClientOptions {
  /** Connections kept to the server (HTTP/1.1: the cap on parallel requests). */
  connections: number;
  /** Negotiate HTTP/2 via ALPN (the API server allows 100 streams per connection by default). */
  http2?: boolean;
  /** Per-request timeout for headers and body, milliseconds. */
  timeoutMs?: number;
}

export interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

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
  private readonly baseHeaders: Readonly<Record<string, string>>;
  private readonly timeoutMs: number;
  private readonly pathPrefix: string;

  constructor(
    readonly connection: Connection,
    options: ClientOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.pool = new Pool(connection.server.origin, {
      connections: options.connections,
      allowH2: options.http2 ?? false,
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
    this.baseHeaders = Object.freeze({ ...connection.headers, 'user-agent': 'asa-bench' });
    // A server URL with a path (e.g. a Rancher proxy, https://host/k8s/clusters/c-x) prefixes every request.
    this.pathPrefix = connection.server.pathname.replace(/\/+$/, '');
  }

  /** The full request path on this server (see pathPrefix). */
  fullPath(path: string): string {
    return this.pathPrefix + path;
  }

  /** Merges the credential headers once, for requests built ahead of the hot loop. */
  headers(extra: Record<string, string>): Record<string, string> {
    return { ...this.baseHeaders, ...extra };
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

  private async sendOnce(req: Request): Promise<Response> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method: req.method,
        path: this.fullPath(req.path),
        headers: req.headers ?? this.headers(JSON_HEADERS),
        body: req.body,
        signal: req.signal,
      });
    } catch (err) {
      throw new RequestError(`${req.method} ${req.path}: ${(err as Error).message}`, classifyError(err), undefined, undefined, { cause: err });
    }
    try {
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    } catch (err) {
      throw new RequestError(`${req.method} ${req.path}: reading body: ${(err as Error).message}`, classifyError(err), undefined, undefined, { cause: err });
    }
  }

  /** Sends and fails on a non-2xx status with the server's Status message. */
  async expectOk(req: Request): Promise<Response> {
    const res = await this.send(req);
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
    await this.pool.close().catch(() => this.pool.destroy());
  }
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_STREAM_ERROR']);
/** undici's InformationalError is generic; only its GOAWAY form means "resend elsewhere". */
const GOAWAY = /GOAWAY/;

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
