/**
 * What one open watch costs the harness, by transport: N watches over
 * HTTP/1.1 (one TLS connection each, as src/engine/watch.ts opens them today)
 * vs HTTP/2 (streams multiplexed over a few connections, as client-go does),
 * each in its own process, against a local kube-apiserver started with API
 * Priority and Fairness off (so the server accepts every watch at once).
 *
 *   node bench/watch-transport.mjs [watches=10000]
 *
 * Prints one table: RSS before and after the watches are open, per watch.
 * BENCH_TRANSPORTS=h2 measures one transport only (default: h2,h1).
 */
// First: one clear line instead of a stack trace on an older Node.
import '../bin/check-node.js';
import { spawn } from 'node:child_process';
import { installSignalHandlers, mb, onCleanup, progress, reexecWithMoreFiles, runCleanups, stopPid, table, trackPid, fmtInt, fmtFix } from './lib.mjs';

const [mode, ...rest] = process.argv.slice(2);

if (mode === '--child') {
  // Child: open N watches with one transport, report RSS.
  const [transport, nText, kubeconfig] = rest;
  const n = Number(nText);
  const { connectionForLocalControlPlane } = await import('../dist/kube/target.js');
  const { KubeClient, JSON_HEADERS } = await import('../dist/kube/client.js');
  const connection = await connectionForLocalControlPlane(kubeconfig);
  // As src/engine/watch.ts opens them: HTTP/2 with at most 100 streams per connection.
  const h2 = transport === 'h2';
  const client = new KubeClient(connection, { connections: h2 ? Math.ceil(n / 100) : n, http2: h2, maxStreams: 100, timeoutMs: 0 });
  const headers = client.headers(JSON_HEADERS);
  const list = await client.getJson('/api/v1/namespaces?limit=1');
  const rv = list.metadata.resourceVersion;
  globalThis.gc?.();
  // BENCH_HEAP_SNAPSHOTS=<dir>: V8 heap snapshots before and after (compare with heapsnapshot-diff.mjs).
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  const { writeHeapSnapshot } = await import('node:v8');
  if (snapshots) writeHeapSnapshot(`${snapshots}/watches-${transport}-before.heapsnapshot`);
  const before = process.memoryUsage();
  const t0 = performance.now();
  const abort = new AbortController();
  let open = 0;
  let failed = 0;
  const bodies = [];
  const reasons = {};
  const why = (k) => (reasons[k] = (reasons[k] ?? 0) + 1);
  await Promise.all(
    Array.from({ length: n }, async () => {
      try {
        // The engine's watch transport (KubeClient.streamLines); resolves when the stream ends.
        let started;
        const opened = new Promise((resolve) => (started = resolve));
        const stream = client.streamLines({ method: 'GET', path: `/api/v1/namespaces?watch=1&resourceVersion=${rv}`, headers, signal: abort.signal }, { onStart: started, onLine: () => true });
        bodies.push(stream.catch(() => {}));
        const status = await Promise.race([opened, stream.then((r) => r.status)]);
        if (status === 200) open++;
        else {
          failed++;
          why(`HTTP ${status}: ${(await stream).body.toString().slice(0, 120)}`);
        }
      } catch (err) {
        failed++;
        why(`${err.code ?? err.name}: ${err.message}`.slice(0, 160));
      }
    }),
  );
  const openMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 2000));
  globalThis.gc?.();
  const after = process.memoryUsage();
  if (snapshots) writeHeapSnapshot(`${snapshots}/watches-${transport}-after.heapsnapshot`);
  const stats = client.pool.stats;
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ transport, n, open, failed, openMs, connections: stats.connected, before, after, reasons })}\n`);
  abort.abort();
  process.exit(0);
}

const code = await reexecWithMoreFiles();
if (code !== undefined) process.exit(code);
installSignalHandlers();
const n = Number(mode ?? 10_000);
const rows = [];
const reasons = [];
try {
  const { ensureControlPlane } = await import('../dist/controlplane/build.js');
  const { startControlPlane } = await import('../dist/controlplane/up.js');
  const { DEFAULT_SERVER_VERSION } = await import('../dist/controlplane/paths.js');
  const bins = await ensureControlPlane(DEFAULT_SERVER_VERSION, progress);
  const cp = await startControlPlane(bins, progress, { apiserverArgs: ['--enable-priority-and-fairness=false', '--max-requests-inflight=20000'] });
  const untrack = [trackPid(cp.apiserverPid), trackPid(cp.etcdPid)];
  onCleanup('control plane', async () => {
    await cp.stop();
    untrack.forEach((u) => u());
  });
  for (const transport of (process.env.BENCH_TRANSPORTS ?? 'h2,h1').split(',')) {
    progress(`${n} watches over ${transport}`);
    const child = spawn(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, '--child', transport, String(n), cp.kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
    const untrackChild = trackPid(child.pid);
    const stop = onCleanup(`child ${transport}`, () => stopPid(child.pid));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise((r) => child.on('exit', r));
    untrackChild();
    await stop();
    const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
    if (!line) throw new Error(`child ${transport} failed: ${out.slice(-300)}`);
    const r = JSON.parse(line.slice(13));
    reasons.push(...Object.entries(r.reasons).map(([k, v]) => `${transport}: ${v} x ${k}`));
    const per = (r.after.rss - r.before.rss) / Math.max(1, r.open) / 1024;
    rows.push([transport === 'h2' ? 'HTTP/2' : 'HTTP/1.1', fmtInt(r.open), r.failed, fmtInt(r.connections), fmtFix(r.openMs / 1000, 1), mb(r.before.rss), mb(r.after.rss), mb(r.after.heapUsed), mb(r.after.heapTotal), mb(r.after.external), fmtFix(per, 1)]);
  }
  process.stdout.write(
    table(
      `Watch transport: harness memory for ${fmtInt(n)} open watches (kube-apiserver, APF off)`,
      ['transport', 'open', 'failed', 'connections', 'open s', 'RSS before MB', 'RSS after MB', 'heapUsed MB', 'heapTotal MB', 'external MB', 'KB/watch'],
      rows,
      ['RSS after = 2 s after the last watch opened, after a GC; one process per transport.', ...reasons.map((r) => `failed: ${r}`)],
    ),
  );
} catch (err) {
  progress(`failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await runCleanups();
}
