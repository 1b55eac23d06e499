/**
 * The storage every API server of the local control plane writes to: etcd 3.6
 * (`storage=etcd`, the default) or kine over SQLite (`storage=kine`, kine.ts).
 * One process whatever the number of tenants; its /metrics are sampled over a
 * run (src/engine/storage-watch.ts).
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { request } from 'undici';
import type { Progress } from './build.js';
import { startKine } from './kine.js';
import { freePort, launch, waitFor } from './process.js';

export type StorageKind = 'etcd' | 'kine';

export interface RunningStorage {
  kind: StorageKind;
  child: ChildProcess;
  /** What kube-apiserver's --etcd-servers takes. */
  url: string;
  /** Plain-HTTP loopback /metrics of the storage process. */
  metricsUrl: string;
  /** Where the storage process serves /debug/pprof (`run --profile`). */
  pprofUrl: string;
  logFile: string;
}

export async function startStorage(kind: StorageKind, binary: string, dir: string, progress: Progress, detached: boolean): Promise<RunningStorage> {
  if (kind === 'kine') {
    const kine = await startKine(binary, dir, progress, detached);
    return { kind, ...kine, pprofUrl: kine.metricsUrl.replace(/\/metrics$/, ''), logFile: path.join(dir, 'kine.log') };
  }
  return startEtcd(binary, dir, progress, detached);
}

async function startEtcd(binary: string, dir: string, progress: Progress, detached: boolean): Promise<RunningStorage> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const logFile = path.join(dir, 'etcd.log');
  progress(`starting etcd on ${url} (data ${dir})`);
  const child = await launch(
    binary,
    [
      '--name=asa-bench',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=asa-bench=http://127.0.0.1:${peerPort}`,
      '--log-level=warn',
      '--quota-backend-bytes=8589934592',
      // pprof on the client URL (/debug/pprof/*, no authentication; loopback only): `run --profile`.
      '--enable-pprof',
    ],
    logFile,
    detached,
  );
  await waitFor(`etcd at ${url}`, logFile, child, 30_000, async () => {
    const res = await request(`${url}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (!res) return false;
    const body = (await res.body.json().catch(() => ({}))) as { health?: string };
    return body.health === 'true';
  });
  // etcd serves its metrics on the client URL.
  return { kind: 'etcd', child, url, metricsUrl: `${url}/metrics`, pprofUrl: url, logFile };
}
