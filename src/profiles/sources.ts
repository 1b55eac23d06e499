/**
 * Where profiles come from: each profiled process is a source that answers
 * pprof paths (`/debug/pprof/profile?seconds=N`, `/debug/pprof/heap`). The run
 * profiles every source in its list: kube-apiserver through the API (needs the
 * nonResourceURL `/debug/pprof/*`), etcd on its client URL (`--enable-pprof`);
 * another process (kine) is one more entry with its URL and table.
 */
import { request } from 'undici';
import { KubeClient } from '../kube/client.js';
import type { Connection } from '../kube/target.js';
import type { TableName } from './components.js';

export interface ProfileSource {
  /** Names the process in results and file names: `kube-apiserver`, `etcd`, `kine`. */
  name: string;
  /** The attribution table for its functions (src/profiles/components.ts). */
  table: TableName;
  /** GETs a pprof path; resolves with the body (gzipped profile.proto). */
  fetch(path: string, signal: AbortSignal): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** The source does not serve profiles to us (denied, disabled, not there): profiling it stops for the run. */
export class ProfileUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileUnavailable';
  }
}

/** HTTP statuses that mean "not for us" rather than "try again later". */
function unavailableStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 404 || status === 405;
}

/**
 * kube-apiserver through the API, with its own small connection pool: a CPU profile
 * holds its connection for the whole phase, which must not take one from the load.
 */
export function apiserverSource(connection: Connection, options: { timeoutMs: number; http2?: boolean }): ProfileSource {
  const client = new KubeClient(connection, { connections: 2, http2: options.http2 ?? false, timeoutMs: options.timeoutMs });
  const headers = client.headers({ accept: 'application/octet-stream, */*' });
  return {
    name: 'kube-apiserver',
    table: 'kube-apiserver',
    async fetch(path, signal) {
      const res = await client.send({ method: 'GET', path, headers, signal });
      if (res.status === 200) return res.body;
      const detail = `GET ${path} answered ${res.status}${res.body.length > 0 ? `: ${res.body.toString('utf8').slice(0, 160).trim()}` : ''}`;
      if (unavailableStatus(res.status)) throw new ProfileUnavailable(`${detail} (profiling needs get on the nonResourceURL /debug/pprof/* and the server's --profiling, on by default)`);
      throw new Error(detail);
    },
    close: () => client.close(),
  };
}

/** A process serving pprof on a plain-HTTP URL (etcd's client URL with `--enable-pprof`). */
export function httpSource(name: string, table: TableName, baseUrl: string, options: { timeoutMs: number }): ProfileSource {
  return {
    name,
    table,
    async fetch(path, signal) {
      let res;
      try {
        res = await request(`${baseUrl}${path}`, { signal, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ECONNREFUSED') throw new ProfileUnavailable(`${baseUrl} refused the connection`);
        throw err;
      }
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode === 200) return body;
      const detail = `GET ${baseUrl}${path} answered ${res.statusCode}`;
      if (unavailableStatus(res.statusCode)) throw new ProfileUnavailable(`${detail} (${name} needs --enable-pprof)`);
      throw new Error(detail);
    },
  };
}
