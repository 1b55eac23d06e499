#!/usr/bin/env node
// What `run --profile` costs kube-apiserver: one local control plane, a steady closed
// load (8 workers listing 300 ConfigMaps from the watch cache, `resourceVersion=0`),
// measured in alternating 5 s windows, one with a CPU profile being taken
// (`/debug/pprof/profile?seconds=5`, through the same code as `run --profile`) and one
// without, 12 pairs. Alternating windows on one server cancel the drift of a shared
// machine better than separate runs. Per window: requests completed and
// kube-apiserver CPU (utime+stime from /proc/<pid>/stat) per request. Prints the
// median of each side and the median of the paired changes.
//   npm run bench:profile-overhead            (BENCH_PAIRS=12, BENCH_WINDOW_S=5)
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { ensureControlPlane } = await dist('controlplane/build.js');
const { startControlPlane } = await dist('controlplane/up.js');
const { DEFAULT_SERVER_VERSION } = await dist('controlplane/paths.js');
const { connectionForLocalControlPlane } = await dist('kube/target.js');
const { KubeClient, JSON_HEADERS } = await dist('kube/client.js');
const { apiserverSource } = await dist('profiles/sources.js');

const PAIRS = Number(process.env.BENCH_PAIRS ?? 12);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 5);
const WORKERS = 8;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ticks = os.constants?.priority ? 100 : 100; // USER_HZ is 100 on Linux
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

const log = (m) => process.stderr.write(`${m}\n`);
const bins = await ensureControlPlane(DEFAULT_SERVER_VERSION, log);
const cp = await startControlPlane(bins, log);
let stop = false;
try {
  const connection = await connectionForLocalControlPlane(cp.kubeconfig);
  const client = new KubeClient(connection, { connections: WORKERS, timeoutMs: 60_000 });
  const headers = client.headers(JSON_HEADERS);
  for (let i = 0; i < 300; i++) {
    await client.sendJson('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}` }, data: { v: 'x'.repeat(1024) } });
  }
  let done = 0;
  const workers = Array.from({ length: WORKERS }, async () => {
    while (!stop) {
      const res = await client.send({ method: 'GET', path: '/api/v1/namespaces/default/configmaps?resourceVersion=0', headers, read: 'count' });
      if (res.status === 200) done++;
    }
  });
  const source = apiserverSource(connection, { timeoutMs: (WINDOW_S + 60) * 1000 });
  const windows = { off: [], on: [] };
  await new Promise((r) => setTimeout(r, 3000)); // warm up
  for (let pair = 0; pair < PAIRS; pair++) {
    // Alternate which side goes first, so neither always follows the other.
    for (const side of pair % 2 ? ['on', 'off'] : ['off', 'on']) {
      const cpu0 = await cpuSeconds(cp.apiserverPid);
      const done0 = done;
      const t0 = performance.now();
      if (side === 'on') await source.fetch(`/debug/pprof/profile?seconds=${WINDOW_S}`, AbortSignal.timeout((WINDOW_S + 30) * 1000));
      else await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
      const seconds = (performance.now() - t0) / 1000;
      const cpu = (await cpuSeconds(cp.apiserverPid)) - cpu0;
      const n = done - done0;
      windows[side].push({ rate: n / seconds, cpuMsPerOp: (cpu * 1000) / n });
      log(`pair ${pair + 1} ${side}: ${(n / seconds).toFixed(1)} req/s, ${((cpu * 1000) / n).toFixed(3)} CPU ms/req`);
    }
  }
  stop = true;
  await Promise.all(workers);
  await source.close();
  await client.close();
  const rows = [['figure', 'without', 'with CPU profile', 'change (median of pairs)']];
  for (const [key, label, digits] of [['rate', 'LIST (cache) req/s', 1], ['cpuMsPerOp', 'kube-apiserver CPU ms/req', 3]]) {
    const off = windows.off.map((w) => w[key]);
    const on = windows.on.map((w) => w[key]);
    const paired = off.map((o, i) => (on[i] - o) / o);
    const m = median(paired);
    rows.push([label, median(off).toFixed(digits), median(on).toFixed(digits), `${m >= 0 ? '+' : ''}${(m * 100).toFixed(1)} % (pairs: ${paired.map((p) => `${p >= 0 ? '+' : ''}${(p * 100).toFixed(0)}`).join(' ')})`]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(`profiling overhead: ${PAIRS} pairs of ${WINDOW_S} s windows, ${WORKERS} workers, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(1)}`);
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
} finally {
  stop = true;
  await cp.stop();
}
