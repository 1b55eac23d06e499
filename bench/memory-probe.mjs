/**
 * Where a run's memory goes: loaded into `asa-bench run` with
 * `node --import ./bench/memory-probe.mjs` (bench:memory does it when
 * BENCH_MEMORY_PROBE=<dir> is set). Every 100 ms it samples
 * process.memoryUsage() and remembers, per phase (the last "step … ▸ phase"
 * progress line the CLI wrote on stderr), the highest RSS and the heap, external
 * and arrayBuffers figures at that moment, plus the highest of each on its own.
 * At each new RSS high above BENCH_PROBE_SMAPS_MB it reads /proc/self/smaps_rollup
 * (anonymous vs file-backed pages). When BENCH_PROBE_SNAPSHOT_MB is set, it writes
 * one V8 heap snapshot the first time RSS crosses that many MB (or at the
 * seconds listed in BENCH_PROBE_SNAPSHOT_AT). With BENCH_PROBE_ALLOC=1 it runs
 * V8's sampling heap profiler counting every allocation, garbage included, and
 * reports per phase the bytes allocated by the nearest asa-bench function
 * (dist/) on the stack. At exit it writes `<dir>/probe-<pid>.json`.
 *
 * A probe, not part of the product: it patches process.stderr.write to see the
 * progress lines and costs one timer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import v8 from 'node:v8';

const dir = process.env.BENCH_PROBE_DIR;
// The launcher re-executes itself with its heap flags (same pid): only the sized process reports.
if (dir && process.env.ASA_BENCH_HEAP !== undefined) install(dir);

function install(dir) {
  const MB = 2 ** 20;
  const snapshotMb = Number(process.env.BENCH_PROBE_SNAPSHOT_MB ?? 0);
  const smapsMb = Number(process.env.BENCH_PROBE_SMAPS_MB ?? 0);
  const t0 = performance.now();
  let phase = 'start-up';
  const phases = new Map(); // phase -> { rss, heapUsed, heapTotal, external, arrayBuffers at the rss max; max of each }
  const overall = { rssMax: 0, at: undefined, smaps: undefined };
  let snapshotWritten;
  const snapshotAt = (process.env.BENCH_PROBE_SNAPSHOT_AT ?? '').split(',').filter(Boolean).map(Number);
  const snapshots = [];
  const alloc = process.env.BENCH_PROBE_ALLOC === '1' ? allocationSampler() : undefined;

  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    const text = String(chunk);
    const m = /step \d+ \(([^)]*)\) ▸ ([^:\n]+)/.exec(text);
    const before = phase;
    if (m) phase = `${m[2]} @ ${m[1]}`;
    else if (/deleting \d+ CRDs|waiting for \d+ CRDs to finish deleting/.test(text)) phase = 'cleanup';
    else if (/results: /.test(text)) phase = 'report';
    if (alloc && phase !== before) alloc.flush(before);
    return write(chunk, ...rest);
  };

  const round = (b) => Math.round((b / MB) * 10) / 10;
  const sample = () => {
    const u = process.memoryUsage();
    const p = phases.get(phase) ?? { samples: 0, atRssMax: undefined, max: { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 } };
    phases.set(phase, p);
    p.samples++;
    for (const k of Object.keys(p.max)) p.max[k] = Math.max(p.max[k], u[k]);
    if (!p.atRssMax || u.rss > p.atRssMax.rss) p.atRssMax = { ...u, t: (performance.now() - t0) / 1000 };
    if (u.rss > overall.rssMax) {
      overall.rssMax = u.rss;
      overall.at = { phase, t: Math.round((performance.now() - t0) / 100) / 10, ...Object.fromEntries(Object.entries(u).map(([k, v]) => [k, round(v)])) };
      if (smapsMb > 0 && u.rss > smapsMb * MB) overall.smaps = smapsRollup();
    }
    if (snapshotMb > 0 && !snapshotWritten && u.rss > snapshotMb * MB) {
      snapshotWritten = path.join(dir, `peak-${process.pid}-${phase.replace(/[^\w@.-]+/g, '_')}.heapsnapshot`);
      v8.writeHeapSnapshot(snapshotWritten);
    }
    const t = (performance.now() - t0) / 1000;
    while (snapshotAt.length > 0 && t >= snapshotAt[0]) {
      snapshotAt.shift();
      const file = path.join(dir, `at-${Math.round(t)}s-${process.pid}-${phase.replace(/[^\w@.-]+/g, '_')}.heapsnapshot`);
      v8.writeHeapSnapshot(file);
      snapshots.push(file);
    }
  };
  setInterval(sample, 100).unref();

  process.on('exit', () => {
    const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const report = {
      argv: process.argv.slice(2),
      heap: process.env.ASA_BENCH_HEAP,
      vmHwmMb: round(Number(hwm) * 1024),
      peak: overall.at,
      smapsAtPeak: overall.smaps,
      snapshot: snapshotWritten,
      snapshots,
      allocatedMb: alloc?.report(phase),
      phases: Object.fromEntries(
        [...phases].map(([name, p]) => [
          name,
          {
            samples: p.samples,
            atRssMax: Object.fromEntries(Object.entries(p.atRssMax).map(([k, v]) => [k, k === 't' ? Math.round(v * 10) / 10 : round(v)])),
            max: Object.fromEntries(Object.entries(p.max).map(([k, v]) => [k, round(v)])),
          },
        ]),
      ),
    };
    writeFileSync(path.join(dir, `probe-${process.pid}.json`), `${JSON.stringify(report, null, 2)}\n`);
  });
}

function smapsRollup() {
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rssMb: kb('Rss') / 1024, anonMb: kb('Anonymous') / 1024, fileMb: (kb('Rss') - kb('Anonymous')) / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * V8's sampling heap profiler with objects collected by GCs kept in the
 * profile: bytes allocated (not retained) by stack. Each stack is charged to
 * its nearest frame in asa-bench's own code (dist/), else its top frame.
 */
function allocationSampler() {
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) => {
    let out;
    session.post(method, params, (err, res) => {
      if (err) throw err;
      out = res;
    });
    return out;
  };
  const start = () => post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  post('HeapProfiler.enable');
  start();
  const byPhase = new Map();
  const frame = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(dist|node_modules|bench)\//, '$1/')}:${cf.lineNumber + 1}`;
  const flush = (phase) => {
    const res = post('HeapProfiler.stopSampling');
    start();
    const totals = byPhase.get(phase) ?? new Map();
    byPhase.set(phase, totals);
    const walk = (node, ours) => {
      const own = node.callFrame.url.includes('/dist/') ? frame(node.callFrame) : ours;
      if (node.selfSize > 0) {
        const key = own ?? frame(node.callFrame);
        totals.set(key, (totals.get(key) ?? 0) + node.selfSize);
      }
      for (const c of node.children) walk(c, own);
    };
    if (res?.profile) walk(res.profile.head, undefined);
  };
  const report = (phase) => {
    flush(phase);
    return Object.fromEntries(
      [...byPhase].map(([name, totals]) => {
        const sum = [...totals.values()].reduce((a, b) => a + b, 0);
        const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${(v / 2 ** 20).toFixed(1)} ${k}`);
        return [name, { totalMb: Math.round((sum / 2 ** 20) * 10) / 10, top }];
      }),
    );
  };
  return { flush, report };
}
