/**
 * kine (github.com/k3s-io/kine): an etcd API over SQL, here SQLite, as k3s
 * runs it. The `storage=kine` substitution of the server spec: kube-apiserver
 * talks to it through `--etcd-servers` exactly as to etcd.
 *
 * Built once through the Go module proxy (`go install` of the module root,
 * where its main package is) with CGO_ENABLED=0, which selects kine's pure-Go
 * SQLite driver (modernc.org/sqlite): no C toolchain needed, ~1.5 min instead
 * of ~3. Cached under the asa home like etcd.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { buildInto, go, type Progress } from './go.js';
import { asaHome, buildDir, withLock } from './paths.js';
import { freePort, launch, waitFor } from './process.js';

export const KINE_VERSION = 'v0.17.5';
const KINE_MODULE = 'github.com/k3s-io/kine';

/**
 * The SQLite parameters, complete: a parameter string *replaces* kine's
 * defaults (pkg/drivers/sqlite DefaultParams) instead of adding to them, and a
 * partial one (`?_journal=WAL&cache=shared`) silently lost writes in a
 * feasibility check (APIServices vanished, /readyz never green, no kine error).
 * These are kine's defaults minus `cache=shared`, which the pure-Go driver ignores.
 */
export const KINE_SQLITE_PARAMS = '_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=20';

export function kineBinaryPath(): string {
  return path.join(asaHome(), 'bin', `kine-${KINE_VERSION}`, 'kine');
}

/** Builds kine if it is not cached yet; returns the binary's path. */
export async function ensureKine(progress: Progress = () => {}, signal?: AbortSignal): Promise<string> {
  const output = kineBinaryPath();
  if (existsSync(output)) return output;
  await withLock(`kine-${KINE_VERSION}`, async () => {
    if (existsSync(output)) return;
    progress(`building kine ${KINE_VERSION} (${KINE_MODULE}, pure-Go SQLite; first time only, ~1.5 min)`);
    const started = Date.now();
    const work = buildDir(`kine-${KINE_VERSION}`);
    await mkdir(work, { recursive: true });
    // `go install module@version` builds with the module's own go.mod, outside any module of ours.
    await buildInto(output, `kine ${KINE_VERSION}`, async (gobin) => {
      await go(['install', '-trimpath', '-ldflags', '-s -w', `${KINE_MODULE}@${KINE_VERSION}`], work, progress, {
        env: { GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '' },
        heartbeat: `building kine ${KINE_VERSION}`,
        signal,
      });
      return path.join(gobin, 'kine');
    });
    progress(`built kine ${KINE_VERSION} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }, signal);
  return output;
}

export interface RunningKine {
  child: ChildProcess;
  /** What kube-apiserver's --etcd-servers takes. */
  url: string;
  /** kine's Prometheus endpoint (process memory and CPU, SQL latencies). */
  metricsUrl: string;
}

/** Starts kine over a SQLite file in `dir`, on loopback only (its metrics listen on every interface by default). */
export async function startKine(binary: string, dir: string, progress: Progress, detached: boolean): Promise<RunningKine> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  await mkdir(path.join(dir, 'kine'), { recursive: true });
  const db = path.join(dir, 'kine', 'state.db');
  progress(`starting kine ${KINE_VERSION} (SQLite) on ${url} (data ${dir})`);
  const log = path.join(dir, 'kine.log');
  const args = [
    `--endpoint=sqlite://${db}?${KINE_SQLITE_PARAMS}`,
    `--listen-address=127.0.0.1:${port}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    // pprof beside the metrics (loopback only), as etcd's --enable-pprof: `run --profile`.
    '--metrics-enable-profiling',
  ];
  const child = await launch(binary, args, log, detached);
  // kine speaks only the etcd gRPC API on its port: it is up once the port accepts connections
  // (kube-apiserver's own /readyz then checks the storage for real).
  await waitFor(`kine at ${url}`, log, child, 30_000, () => accepts(port));
  return { child, url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
