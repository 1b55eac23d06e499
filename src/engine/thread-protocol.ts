/**
 * What the main thread and the workers of `run --threads N` say to each
 * other (see threads.ts). Only plain, structured-clonable values cross: the
 * scenario slice and connection going in; events, barrier arrivals and the
 * encoded result (summaries with encoded HDR histograms, never samples)
 * coming back.
 */
import type { ClientOptions } from '../kube/client.js';
import type { Connection } from '../kube/target.js';
import type { ScenarioDoc } from '../scenarios/schema.js';
import type { ExecuteResult, RunEvent } from './run.js';

/** A Connection as it crosses to a worker: URL as text, credentials as bytes or text. */
export interface ConnectionData {
  server: string;
  context: string;
  local: boolean;
  tls: { ca?: string | Uint8Array; cert?: string | Uint8Array; key?: string | Uint8Array; rejectUnauthorized: boolean; servername?: string };
  headers: Record<string, string>;
  /** The main thread's credentials change during the run (exec plugin, auth provider) and are forwarded as `credentials` messages. */
  refreshes?: boolean;
}

/** workerData of one worker. */
export interface WorkerInit {
  /** 1-based thread index, of `count`. */
  index: number;
  count: number;
  /** This thread's slice of the validated scenario (src/shard/slice.ts). */
  scenario: ScenarioDoc;
  /** This thread's own run id: its names and labels never collide with the other threads'. */
  runId: string;
  connection: ConnectionData;
  client: ClientOptions;
  local: boolean;
  /** Finalize deleted namespaces by hand (a local control plane without kube-controller-manager). */
  finalizeNamespaces: boolean;
  keep: boolean;
  /** The run's start as epoch ms (performance.timeOrigin + now): the zero of interval timestamps in every thread. */
  startedAtEpochMs: number;
  progressIntervalMs?: number;
}

export type WorkerMessage =
  | { type: 'event'; event: RunEvent }
  /** Arrived before a step ▸ phase group (`phase` set) or after the last one (`end`); waits for `go` with the same seq. */
  | { type: 'barrier'; seq: number; step?: number; phase?: string; end?: true }
  | { type: 'result'; result: ExecuteResult };

export type MainMessage =
  | { type: 'go'; seq: number }
  | { type: 'stop'; reason: string }
  | { type: 'skip-cleanup' }
  /** The main thread's credential headers changed (its KubeClient re-read them). */
  | { type: 'credentials'; headers: Record<string, string> };

export function connectionData(c: Connection): ConnectionData {
  const bytes = (v: string | Buffer | undefined) => (v === undefined || typeof v === 'string' ? v : new Uint8Array(v));
  return {
    server: c.server.href,
    context: c.context,
    local: c.local,
    tls: { ca: bytes(c.tls.ca), cert: bytes(c.tls.cert), key: bytes(c.tls.key), rejectUnauthorized: c.tls.rejectUnauthorized, servername: c.tls.servername },
    headers: { ...c.headers },
    ...(c.refreshHeaders ? { refreshes: true } : {}),
  };
}

/**
 * The worker's Connection. Credentials that change are not re-read in the
 * worker (a function does not cross threads, and N threads running one exec
 * plugin would be N times the work): `latest` returns what the main thread
 * last forwarded, and the worker's KubeClient picks it up as it would a
 * re-read credential.
 */
export function connectionFromData(d: ConnectionData, latest?: () => Record<string, string>): Connection {
  const buffer = (v: string | Uint8Array | undefined) => (v === undefined || typeof v === 'string' ? v : Buffer.from(v));
  return Object.freeze({
    server: new URL(d.server),
    context: d.context,
    local: d.local,
    tls: { ca: buffer(d.tls.ca), cert: buffer(d.tls.cert), key: buffer(d.tls.key), rejectUnauthorized: d.tls.rejectUnauthorized, servername: d.tls.servername },
    headers: Object.freeze({ ...d.headers }),
    ...(d.refreshes && latest ? { refreshHeaders: async () => latest() } : {}),
  });
}
