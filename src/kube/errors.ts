/**
 * Classifying transport failures into the result's error classes
 * (types/results.ts ErrorClass): the transport knows undici's and Node's codes.
 */
import type { ErrorClass } from '../types/results.js';

export function classifyStatus(status: number): ErrorClass | undefined {
  return status >= 200 && status < 400 ? undefined : `http-${status}`;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED', 'UND_ERR_CONNECT',
]);

/** Classifies a thrown transport error by its code (undici and Node errno codes). */
export function classifyError(err: unknown): ErrorClass {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: string }).code;
    const name = (e as { name?: string }).name;
    // Requests asa-bench itself aborted (end of phase, Ctrl-C) are not the server's failures.
    if (code === 'UND_ERR_ABORTED' || name === 'AbortError' || name === 'RequestAbortedError') return 'cancelled';
    if (name === 'TimeoutError' || (code && TIMEOUT_CODES.has(code))) return 'timeout';
    if (code?.startsWith('ERR_HTTP2') || code === 'UND_ERR_H2') return 'http2';
    if (code && CONNECTION_CODES.has(code)) return 'connection';
    e = (e as { cause?: unknown }).cause;
  }
  return 'connection';
}
