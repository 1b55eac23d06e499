/**
 * Engine benchmarks for asa-bench, measured side by side in one run:
 *
 *   null   — physical limit: wrk, autocannon (npm) and the asa-bench engine
 *            (runClosed + KubeClient) against a private nginx serving a fixed
 *            JSON over HTTPS, same connections.
 *   reference — kube-apiserver: the engine vs a k8s.io/client-go reference client
 *            (bench/reference.mjs, Go under bench/reference/): GET, LIST of 500
 *            objects (quorum, cache), aggregated discovery, HTTP/1.1 and HTTP/2.
 *   open   — open-model accuracy (2000/s, schedule lag) and overload (50000/s,
 *            maxInFlight 64: drops, latency from the scheduled start).
 *   watch  — 10,000 watchers over 10 CRDs on a real local kube-apiserver while
 *            objects are patched: events received vs expected, harness RSS.
 *   long   — a steady get/list/patch mix at 300/s for BENCH_LONG_MINUTES (16):
 *            harness RSS at minute 1 vs minute 15.
 *
 * Usage: node bench/engine.mjs [null] [reference] [open] [watch] [long]   (default: all)
 * Needs dist/ (npm run build). Each benchmark prints one plain-text table on
 * stdout; progress goes to stderr. Everything started is stopped on any exit.
 *
 * Environment knobs (defaults in brackets):
 *   BENCH_HTTP_SECONDS [10]    measured seconds per wrk / engine run
 *   BENCH_OPEN_SECONDS [10]    BENCH_OVERLOAD_SECONDS [3]
 *   BENCH_N [32,1]             concurrency (= connections) rows of `null`
 *   BENCH_ROUNDS [3]           rounds of `null` (asa-bench and autocannon alternate who goes first)
 *   BENCH_WATCHERS [10000]     BENCH_WATCH_CRDS [10]
 *   BENCH_WATCH_RATE [20]      BENCH_WATCH_SECONDS [10]   patches/s and seconds of churn
 *   BENCH_LONG_MINUTES [16]    BENCH_LONG_RATE [300]
 *   BENCH_NODE_ARGS            extra node flags for the measured processes (e.g. --heapsnapshot-signal=SIGUSR2)
 *   BENCH_RAW_DIR [.asa/bench-raw] where each worker's raw JSON result (all samples) is written
 *   BENCH_WATCH_APISERVER_ARGS extra kube-apiserver flags for `watch`
 *   BENCH_WATCH_HEAP [auto]    `watch`'s worker runs with the heap flags `run --heap auto` picks; `default`: Node's own
 *   BENCH_CPU_PROF=<dir>       run the engine processes under node --cpu-prof, write
 *                              profiles to <dir> and print their top functions
 */
// First: one clear line instead of a stack trace on an older Node.
import '../bin/check-node.js';
import { readFileSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  ensureNginxAndWrk,
  fdLimits,
  fmtFix,
  fmtInt,
  installSignalHandlers,
  mb,
  median,
  NULL_BODY,
  onCleanup,
  pass,
  procCpuSeconds,
  procRssBytes,
  progress,
  reexecWithMoreFiles,
  runCleanups,
  runWorker,
  sleep,
  startNginx,
  table,
  trackPid,
} from './lib.mjs';
import { startServer } from './kube-fixtures.mjs';

const exitCode = await reexecWithMoreFiles();
if (exitCode !== undefined) process.exit(exitCode);
installSignalHandlers();

const env = process.env;
const num = (name, def) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : def);
const HTTP_SECONDS = num('BENCH_HTTP_SECONDS', 10);
const ROUNDS = Math.max(1, num('BENCH_ROUNDS', 3));
const NS = (env.BENCH_N ?? '32,1').split(',').map(Number).filter((n) => n > 0);
const OPEN_SECONDS = num('BENCH_OPEN_SECONDS', 10);
const OVERLOAD_SECONDS = num('BENCH_OVERLOAD_SECONDS', 3);
/** The open-model scheduler's budgets at 2,000/s, measured alone (Benchmark 2b). */
const SCHED = { rate: 2000, durationMs: num('BENCH_SCHED_SECONDS', 3) * 1000, lagP99Ms: 0.5, cores: 0.25 };
const WATCHERS = num('BENCH_WATCHERS', 10_000);
const WATCH_CRDS = num('BENCH_WATCH_CRDS', 10);
const WATCH_RATE = num('BENCH_WATCH_RATE', 20);
const WATCH_SECONDS = num('BENCH_WATCH_SECONDS', 10);
const LONG_MINUTES = num('BENCH_LONG_MINUTES', 16);
const LONG_RATE = num('BENCH_LONG_RATE', 300);
/** e.g. "--enable-priority-and-fairness=false --max-requests-inflight=20000" to take APF out of the watch benchmark. */
const WATCH_APISERVER_ARGS = (env.BENCH_WATCH_APISERVER_ARGS ?? '').split(/\s+/).filter(Boolean);
const CPU_PROF = env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined;

const ALL = ['null', 'reference', 'open', 'watch', 'long'];
const selected = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const s of selected) if (!ALL.includes(s)) throw new Error(`unknown benchmark ${s}; expected some of ${ALL.join(', ')}`);
const run = selected.length > 0 ? ALL.filter((b) => selected.includes(b)) : ALL;

const AUTOCANNON_VERSION = JSON.parse(readFileSync(new URL('../node_modules/autocannon/package.json', import.meta.url), 'utf8')).version;
const print = (text) => process.stdout.write(`${text}\n`);
const workerOpts = () => ({ cpuProfDir: CPU_PROF });

// ---------------------------------------------------------------------------
// 1. Null server: wrk vs the engine
// ---------------------------------------------------------------------------

function runWrk(wrkBin, url, n, seconds) {
  return new Promise((resolve, reject) => {
    // bash's `time` gives wrk's own user+system CPU (children's rusage), in ms.
    const script = `TIMEFORMAT='BENCH_CPU %3R %3U %3S'; time "$0" "$@"`;
    const child = spawn('bash', ['-c', script, wrkBin, '-t1', `-c${n}`, `-d${seconds}s`, '--latency', `${url}/x`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = trackPid(child.pid);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      untrack();
      const cpu = /BENCH_CPU ([\d.]+) ([\d.]+) ([\d.]+)/.exec(out);
      const total = /(\d+) requests in ([\d.]+)(m?s)/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !cpu || !total || !rps) return reject(new Error(`wrk failed (exit ${code}): ${out.slice(-800)}`));
      const pct = (p) => {
        const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
        if (!m) return undefined;
        return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
      };
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
      resolve({
        requests: Number(total[1]),
        rps: Number(rps[1]),
        cpuUs: (Number(cpu[2]) + Number(cpu[3])) * 1e6,
        cpuUserUs: Number(cpu[2]) * 1e6,
        cpuSystemUs: Number(cpu[3]) * 1e6,
        wallMs: Number(cpu[1]) * 1000,
        p50: pct(50),
        p99: pct(99),
        errors,
      });
    });
  });
}

async function benchNull(nginx, wrkBin) {
  const rows = [];
  const notes = [];
  const workerPid = nginx.workerPids[0];
  const serverCpu = async (fn) => {
    const c0 = procCpuSeconds(workerPid);
    const t0 = performance.now();
    const r = await fn();
    return { r, serverCores: (procCpuSeconds(workerPid) - c0) / ((performance.now() - t0) / 1000) };
  };
  const windowCores = (m) => (m.start && m.end ? (m.end.cpu - m.start.cpu) / ((m.end.t - m.start.t) / 1000) : NaN);
  const row = (client, n, round, r, serverCores) => [client, n, round, fmtInt(r.rps), fmtFix(r.cpuUs / r.requests, 1), `${fmtFix(r.cpuUserUs / r.requests, 1)}/${fmtFix(r.cpuSystemUs / r.requests, 1)}`, fmtFix(r.cpuUs / 1e6 / (r.wallMs / 1000)), fmtFix(serverCores), fmtFix(r.p50, 3), fmtFix(r.p99, 3), r.errors];
  // A worker's result in wrk's shape; nginx CPU is read at the worker's BENCH_MARK start/end lines (warm-up runs inside the worker).
  const worker = async (kind, spec) => {
    const marks = {};
    const r = await runWorker(kind, spec, { ...workerOpts(), onMark: (m) => (marks[m.split(' ')[0]] = { cpu: procCpuSeconds(workerPid), t: performance.now() }) });
    const out = { requests: r.iterations, rps: r.iterations / (r.wallMs / 1000), cpuUs: r.cpuUs, cpuUserUs: r.cpuUserUs, cpuSystemUs: r.cpuSystemUs, wallMs: r.wallMs, p50: r.latencyMs?.p50, p99: r.latencyMs?.p99, errors: Object.values(r.errors).reduce((a, b) => a + b, 0) };
    return { r: out, serverCores: windowCores(marks) };
  };
  const cpuPerReq = (r) => r.cpuUs / r.requests;
  let allMet = true;
  for (const n of NS) {
    const ratios = { wrk: [], autocannon: [], cpuWrk: [], cpuAutocannon: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`null server, N=${n}, round ${round}/${ROUNDS}: wrk -t1 -c${n} -d${HTTP_SECONDS}s`);
      const { r: w, serverCores: wServer } = await serverCpu(() => runWrk(wrkBin, nginx.url, n, HTTP_SECONDS));
      rows.push(row('wrk', n, round, w, wServer));
      // asa-bench and autocannon back to back, who goes first alternating, so a change in the machine's load hits both alike.
      const got = {};
      for (const client of round % 2 === 1 ? ['asa-bench', 'autocannon'] : ['autocannon', 'asa-bench']) {
        progress(`null server, N=${n}, round ${round}/${ROUNDS}: ${client === 'asa-bench' ? `asa-bench engine, runClosed(${n}) on KubeClient(connections ${n})` : 'autocannon (in one Node process, no workers)'}, ${HTTP_SECONDS}s after 2s warm-up`);
        got[client] =
          client === 'asa-bench'
            ? await worker('closed', { url: nginx.url, caFile: nginx.caFile, concurrency: n, connections: n, durationMs: HTTP_SECONDS * 1000, warmupMs: 2000 })
            : await worker('autocannon', { url: nginx.url, connections: n, durationMs: HTTP_SECONDS * 1000, warmupMs: 2000 });
      }
      const e = got['asa-bench'].r;
      const a = got.autocannon.r;
      rows.push(row('asa-bench', n, round, e, got['asa-bench'].serverCores), row('autocannon', n, round, a, got.autocannon.serverCores));
      ratios.wrk.push(e.rps / w.rps);
      ratios.autocannon.push(e.rps / a.rps);
      ratios.cpuWrk.push(cpuPerReq(e) / cpuPerReq(w));
      ratios.cpuAutocannon.push(cpuPerReq(e) / cpuPerReq(a));
    }
    const ratio = median(ratios.wrk);
    const aRatio = median(ratios.autocannon);
    allMet &&= ratio >= 0.5 && aRatio >= 1;
    const rounds = (xs) => (xs.length > 1 ? `; rounds ${xs.map((x) => x.toFixed(2)).join(' ')}` : '');
    notes.push(`ratio asa-bench/wrk: ${ratio.toFixed(2)}  (N=${n}; target >= 0.5: ${pass(ratio >= 0.5)}; CPU per request asa-bench/wrk: ${median(ratios.cpuWrk).toFixed(1)}x${rounds(ratios.wrk)})`);
    notes.push(`ratio asa-bench/autocannon: ${aRatio.toFixed(2)}  (N=${n}; target >= 1.0: ${pass(aRatio >= 1)}; CPU per request asa-bench/autocannon: ${median(ratios.cpuAutocannon).toFixed(2)}x${rounds(ratios.autocannon)})`);
  }
  notes.push(
    `nginx ${nginx.url}: 1 worker, HTTPS (self-signed P-256), keep-alive, fixed ${Buffer.byteLength(NULL_BODY)}-byte JSON; ${HTTP_SECONDS}s per run, ${ROUNDS} round(s) (ratios: median of the per-round ratios); wrk -t1 and one Node process (one event loop).`,
    'client CPU = user+system of the whole client process (wrk: bash `time`; engine: process.cpuUsage around runClosed; autocannon: process.cpuUsage around its run); nginx cores = nginx worker /proc utime+stime over the measured window.',
    `autocannon ${AUTOCANNON_VERSION} (npm): programmatic, one process, no worker threads, same connections (pipelining 1), same headers; asa-bench records what autocannon does not: error classes, bytes per request, per-op HDR histograms and per-second intervals.`,
  );
  return { text: table('Benchmark 1: null server (physical limit) — wrk, autocannon and the asa-bench engine', ['client', 'N', 'round', 'req/s', 'CPU µs/req', 'usr/sys µs', 'client cores', 'nginx cores', 'p50 ms', 'p99 ms', 'errors'], rows, notes), met: allMet };
}

// ---------------------------------------------------------------------------
// 2. Open model: accuracy and overload
// ---------------------------------------------------------------------------

async function benchOpen(nginx) {
  const cases = [
    { name: 'accuracy', rate: 2000, maxInFlight: 1000, durationMs: OPEN_SECONDS * 1000, connections: 32 },
    { name: 'overload', rate: 50_000, maxInFlight: 64, durationMs: OVERLOAD_SECONDS * 1000, connections: 64 },
  ];
  const rows = [];
  const notes = [];
  const results = {};
  for (const c of cases) {
    progress(`open model ${c.name}: ${c.rate}/s, maxInFlight ${c.maxInFlight}, ${c.durationMs / 1000}s, ${c.connections} connections`);
    const r = await runWorker('open', { url: nginx.url, caFile: nginx.caFile, rate: c.rate, maxInFlight: c.maxInFlight, durationMs: c.durationMs, connections: c.connections, warmupMs: 1000 }, workerOpts());
    results[c.name] = r;
    const achieved = r.started / (c.durationMs / 1000);
    const dev = ((achieved - c.rate) / c.rate) * 100;
    rows.push([
      c.name,
      fmtInt(c.rate),
      c.maxInFlight,
      fmtInt(r.scheduled),
      fmtInt(r.started),
      fmtInt(r.dropped),
      fmtInt(achieved),
      `${dev >= 0 ? '+' : ''}${dev.toFixed(2)}%`,
      fmtFix(r.lagMs.p50, 3),
      fmtFix(r.lagMs.p99, 3),
      fmtFix(r.lagMs.max, 1),
      fmtFix(r.latencyMs.p50, 3),
      fmtFix(r.latencyMs.p99, 3),
      fmtInt(r.ok),
      r.errors,
    ]);
    c.result = { achieved, dev };
  }
  // The scheduler alone (no server, no-op iterations, its own process): its budgets.
  const sched = [];
  for (const pacer of ['precise', 'timers']) {
    progress(`open model scheduler alone: ${SCHED.rate}/s, ${SCHED.durationMs / 1000}s, ${pacer} pacer`);
    sched.push({ pacer, r: await runWorker('pacer', { rate: SCHED.rate, durationMs: SCHED.durationMs, pacer }, workerOpts()) });
  }
  const precise = sched[0].r;
  const schedMet = precise.lagMs.p99 < SCHED.lagP99Ms && precise.cores < SCHED.cores;
  const schedRows = sched.map(({ pacer, r }) => [pacer, fmtInt(SCHED.rate), fmtInt(r.started), fmtFix(r.lagMs.p50, 3), fmtFix(r.lagMs.p99, 3), fmtFix(r.lagMs.max, 1), fmtFix(r.cores, 3)]);
  const acc = cases[0];
  const ovl = cases[1];
  const accMet = Math.abs(acc.result.dev) <= 1;
  const ovlMet = results.overload.dropped > 0;
  notes.push(
    `accuracy: achieved = started / ${acc.durationMs / 1000}s = ${acc.result.achieved.toFixed(1)}/s vs ${acc.rate}/s (${acc.result.dev.toFixed(2)}%); within 1%: ${pass(accMet)}; schedule lag p99 ${results.accuracy.lagMs.p99} ms (max ${results.accuracy.lagMs.max} ms)`,
    `overload: ${fmtInt(results.overload.dropped)} of ${fmtInt(results.overload.scheduled)} arrivals dropped (> 0: ${pass(ovlMet)}); completed ${fmtInt(results.overload.ok)} = ${fmtInt(results.overload.ok / (ovl.durationMs / 1000))}/s; latency from the scheduled start p50 ${results.overload.latencyMs.p50} ms, p99 ${results.overload.latencyMs.p99} ms`,
    'lag = start of the iteration - (t0 + arrivalTimeMs(model, index)), for every started arrival (dropped ones never start); latency = sink latency (from the scheduled start) of completed requests.',
  );
  return {
    text:
      table(
        'Benchmark 2: open model (runOpen) against the null server',
        ['case', 'rate/s', 'maxInFlight', 'scheduled', 'started', 'dropped', 'achieved/s', 'dev', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'lat p50 ms', 'lat p99 ms', 'ok', 'errors'],
        rows,
        notes,
      ) +
      '\n' +
      table('Benchmark 2b: the open-model scheduler alone (no server, no-op iterations, its own process)', ['pacer', 'rate/s', 'started', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'process cores'], schedRows, [
        `budgets (worker-thread pacer): lag p99 < ${SCHED.lagP99Ms} ms: ${pass(precise.lagMs.p99 < SCHED.lagP99Ms)}; CPU < ${SCHED.cores} cores: ${pass(precise.cores < SCHED.cores)}. The timers row is Node's millisecond timers, for comparison.`,
      ]),
    met: accMet && ovlMet && schedMet,
  };
}

// ---------------------------------------------------------------------------
// Local control plane (etcd + kube-apiserver)
// ---------------------------------------------------------------------------

async function withControlPlane(fn, apiserverArgs = []) {
  const { cp, stop } = await startServer(apiserverArgs);
  try {
    return await fn(cp);
  } finally {
    await stop();
  }
}

/** Polls the API server's RSS and open WATCH requests (apiserver_longrunning_requests) once a second. */
function serverSampler(cp) {
  const series = [];
  let client;
  let timer;
  const read = async () => {
    const rss = procRssBytes(cp.apiserverPid);
    let watches;
    try {
      const res = await client.send({ method: 'GET', path: '/metrics', headers: client.headers({ accept: 'text/plain' }) });
      if (res.status === 200) {
        watches = 0;
        for (const line of res.body.toString('utf8').split('\n')) {
          if (line.startsWith('apiserver_longrunning_requests{') && line.includes('verb="WATCH"')) watches += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
      }
    } catch {
      // the server is busy; skip this sample
    }
    series.push({ epochMs: Date.now(), rss, watches });
  };
  return {
    series,
    async start() {
      const { connectionFromKubeconfig } = await import('../dist/kube/target.js');
      const { KubeClient } = await import('../dist/kube/client.js');
      client = new KubeClient(await connectionFromKubeconfig({ kubeconfig: cp.kubeconfig, local: true }), { connections: 1, timeoutMs: 5000 });
      await read();
      const loop = async () => {
        await read();
        timer = setTimeout(loop, 1000);
      };
      timer = setTimeout(loop, 1000);
    },
    async stop() {
      clearTimeout(timer);
      await client?.close();
    },
  };
}

const opOf = (phase, key) => phase?.ops.find((o) => o.op === key);

// ---------------------------------------------------------------------------
// 3. Watch fan-out
// ---------------------------------------------------------------------------

function watchScenario() {
  return `version: 1
name: bench-watch-fanout
description: ${WATCHERS} watchers over ${WATCH_CRDS} CRDs while patching at ${WATCH_RATE}/s for ${WATCH_SECONDS}s.
seed: 3
generate:
  crds: { count: ${WATCH_CRDS}, groups: 1, scope: Namespaced, schema: { properties: 4, depth: 1 } }
  objects: { perCRD: 10, sizeBytes: 256, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 10, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 10 }
  - { name: churn, op: patch, of: objects, rate: ${WATCH_RATE}/s, duration: ${WATCH_SECONDS}s }
  - { name: watch, op: watch, watchers: ${WATCHERS}, during: churn }
cleanup: true
`;
}

/** What `run --heap auto` picks for a scenario (src/cli/heap.ts): node flags, environment, and the line it prints. BENCH_WATCH_HEAP=default: none. */
async function cliHeap(scenarioText) {
  if (env.BENCH_WATCH_HEAP === 'default') return { nodeArgs: [], env: undefined, why: 'default (BENCH_WATCH_HEAP=default)' };
  const { chooseHeap, heapEnv } = await import('../dist/cli/heap.js');
  const { parseScenario } = await import('../dist/scenarios/parse.js');
  const { compilePlan } = await import('../dist/scenarios/plan.js');
  const choice = chooseHeap(compilePlan(parseScenario(scenarioText, 'bench-watch-fanout.yaml')));
  return { nodeArgs: choice.flags, env: heapEnv(process.env), why: `${choice.flags.join(' ')} MALLOC_ARENA_MAX=${heapEnv(process.env).MALLOC_ARENA_MAX} (${choice.why})` };
}

async function benchWatch() {
  const limits = fdLimits();
  progress(`open-files limit for this process and its children: soft ${limits.soft}, hard ${limits.hard}`);
  // The heap flags and environment `asa-bench run` (--heap auto) would re-execute itself with for this plan.
  const heap = await cliHeap(watchScenario());
  progress(`worker heap (as run --heap auto): ${heap.why}`);
  return withControlPlane(async (cp) => {
    const sampler = serverSampler(cp);
    await sampler.start();
    let r;
    try {
      progress(`watch fan-out: ${WATCHERS} watchers over ${WATCH_CRDS} CRDs, churn ${WATCH_RATE}/s for ${WATCH_SECONDS}s`);
      r = await runWorker('scenario', { kubeconfig: cp.kubeconfig, name: 'bench-watch-fanout', scenarioText: watchScenario(), sampleMs: 500, progressIntervalMs: 2000, trackWatches: true }, { ...workerOpts(), ...heap });
    } finally {
      await sampler.stop();
    }
    const churn = r.phases.find((p) => p.phase === 'churn');
    const watch = r.phases.find((p) => p.phase === 'watch');
    const patchOps = opOf(churn, 'patch.objects');
    const patches = patchOps?.ok ?? 0;
    const perCrd = WATCHERS / WATCH_CRDS;
    const expected = patches * perCrd;
    const received = opOf(watch, 'watch.events.modified')?.count ?? 0;
    const established = opOf(watch, 'watch.established');
    const reconnect = opOf(watch, 'watch.reconnect');
    const lat = opOf(watch, 'watch.event-latency')?.latencyMs;
    const rssSampled = Math.max(...r.samples.map((s) => s.rss));
    const atMax = r.samples.find((s) => s.rss === rssSampled);
    const rssPhase = watch?.harness.rssMaxBytes;
    const serverRss = Math.max(...sampler.series.map((s) => s.rss ?? 0));
    // When were all watches open, relative to the watch and churn phase starts?
    const before = sampler.series.filter((s) => s.watches !== undefined && s.epochMs <= (r.phaseStartsEpoch?.watch ?? Infinity));
    const baseline = before.at(-1)?.watches ?? sampler.series[0]?.watches;
    const watchStart = r.phaseStartsEpoch?.watch;
    const churnStart = r.phaseStartsEpoch?.churn;
    const allOpen = sampler.series.find((s) => s.watches !== undefined && baseline !== undefined && s.watches - baseline >= WATCHERS && s.epochMs >= (watchStart ?? 0));
    const maxOpen = Math.max(...sampler.series.map((s) => (s.watches ?? 0) - (baseline ?? 0)));
    const wt = r.watchTracking;
    const rel = (t) => (t !== undefined && watchStart !== undefined ? `${((t - watchStart) / 1000).toFixed(1)} s` : '-');
    const receivedMet = received === expected && expected > 0;
    const rssMet = rssSampled <= 300 * 1024 * 1024;
    const rows = [
      ['watchers established (watch.established)', `${fmtInt(established?.count ?? 0)} / ${fmtInt(WATCHERS)}`, '', ''],
      ['watch reconnects / errors', `${fmtInt(reconnect?.count ?? 0)} / ${JSON.stringify(reconnect?.errors ?? {})}`, '', ''],
      ['server-side open watches (max above baseline; /metrics every 1 s)', Number.isFinite(maxOpen) ? fmtInt(maxOpen) : '-', '', ''],
      ['watches opened, client side: first / half / last (s after watch phase start)', wt ? `${wt.firstOpenS} / ${wt.halfOpenS} / ${wt.lastOpenS}` : '-', '', ''],
      ['all watches open, server side (s after watch phase start)', allOpen ? rel(allOpen.epochMs) : 'not seen', '', ''],
      ['churn phase start / first / last ok patch sent (s after watch phase start)', `${rel(churnStart)} / ${wt?.firstPatchS ?? '-'} / ${wt?.lastPatchS ?? '-'}`, '', ''],
      ['patches ok / sent', `${fmtInt(patches)} / ${fmtInt(patchOps?.count ?? 0)}`, '', ''],
      ['watchers per CRD', fmtInt(perCrd), '', ''],
      ['events expected (patches x watchers/CRD)', fmtInt(expected), '', ''],
      ['events reachable: watchers whose initial list was answered before the patch', wt ? fmtInt(wt.reachable) : '-', '', ''],
      ['events received (watch.events.modified)', fmtInt(received), '= expected', pass(receivedMet)],
      ['harness RSS max (sampled every 500 ms)', `${mb(rssSampled)} MB`, '<= 300 MB', pass(rssMet)],
      ['  of which JS heap used / external (at that sample)', `${mb(atMax?.heapUsed)} / ${mb(atMax?.external)} MB`, '', ''],
      ['harness RSS before the watch phase', `${mb(r.samples.filter((s) => s.t <= (r.phaseStarts.watch ?? 0)).at(-1)?.rss)} MB`, '', ''],
      ['harness RSS max (PhaseResult.harness, watch)', `${mb(rssPhase)} MB`, '', ''],
      ['harness heap flags (as run --heap auto)', heap.why, '', ''],
      ['harness CPU (watch phase), cores', fmtFix(watch?.harness.cpuCores), '', ''],
      ['event latency p50 / p99 / max', lat ? `${lat.p50} / ${lat.p99} / ${lat.max} ms` : '-', '', ''],
      ['kube-apiserver RSS max', `${mb(serverRss)} MB`, '', ''],
      ['run status', `${r.status}${r.reason ? ` (${r.reason})` : ''}`, '', ''],
    ];
    const notes = [`open files: soft ${limits.soft}, hard ${limits.hard} (inherited by kube-apiserver, etcd and the worker; Go raises its soft limit to the hard one)`];
    if (!receivedMet) {
      notes.push(`missing events: ${fmtInt(expected - received)} (${((1 - received / Math.max(1, expected)) * 100).toFixed(2)}%)`);
      if (wt) {
        notes.push(
          received >= wt.reachable
            ? `received >= reachable (${fmtInt(received)} >= ${fmtInt(wt.reachable)}): no event was lost; the missing ones were written before their watcher had listed (its starting resourceVersion)${(established?.count ?? 0) < WATCHERS ? ` or had no watcher at all (${fmtInt(WATCHERS - (established?.count ?? 0))} never established)` : ''} — run.ts starts the host phase after at most 5 s of waiting for the watchers`
            : `received < reachable (${fmtInt(received)} < ${fmtInt(wt.reachable)}): ${fmtInt(wt.reachable - received)} events that watchers should have got were not counted (lost, or still in flight when the watch drain ended)`,
        );
      }
    }
    return {
      text: table(
        `Benchmark 3: watch fan-out on kube-apiserver (${fmtInt(WATCHERS)} watchers, ${WATCH_CRDS} CRDs, ${WATCH_RATE}/s x ${WATCH_SECONDS}s patches${WATCH_APISERVER_ARGS.length > 0 ? `; kube-apiserver ${WATCH_APISERVER_ARGS.join(' ')}` : ''})`,
        ['metric', 'value', 'target', 'result'],
        rows,
        notes,
      ),
      met: receivedMet && rssMet,
    };
  }, WATCH_APISERVER_ARGS);
}

// ---------------------------------------------------------------------------
// 4. Long run memory
// ---------------------------------------------------------------------------

function longScenario(seconds) {
  return `version: 1
name: bench-long-run
description: Steady get/list/patch mix at ${LONG_RATE}/s for ${seconds}s.
seed: 4
generate:
  crds: { count: 10, groups: 2, scope: Namespaced, schema: { properties: 10, depth: 1 } }
  objects: { perCRD: 20, sizeBytes: 1024, namespaces: 4 }
phases:
  - { name: install, op: create, of: crds, concurrency: 10, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 10 }
  - name: steady
    op: mix
    rate: ${LONG_RATE}/s
    maxInFlight: 200
    duration: ${seconds}s
    mix:
      - { op: get, consistency: cache, weight: 6 }
      - { op: list, consistency: cache, scope: namespace, weight: 2 }
      - { op: patch, of: objects, weight: 2 }
cleanup: true
`;
}

/** Median RSS of the samples within ±windowS of time t (seconds). */
function rssAround(samples, t, windowS = 15) {
  const near = samples.filter((s) => Math.abs(s.t - t) <= windowS).map((s) => s.rss).sort((a, b) => a - b);
  return near.length > 0 ? near[Math.floor(near.length / 2)] : undefined;
}

async function benchLong() {
  const seconds = Math.round(LONG_MINUTES * 60);
  // Minute 1 and minute 15 of the 16-minute run; a short run compares its own equivalents.
  const early = LONG_MINUTES >= 4 ? 1 : LONG_MINUTES / 4;
  const late = LONG_MINUTES >= 4 ? LONG_MINUTES - 1 : (LONG_MINUTES * 7) / 8;
  return withControlPlane(async (cp) => {
    progress(`long run: mix get/list/patch at ${LONG_RATE}/s for ${LONG_MINUTES} min (RSS at minute ${early} vs ${late})`);
    const r = await runWorker('scenario', { kubeconfig: cp.kubeconfig, name: 'bench-long-run', scenarioText: longScenario(seconds), sampleMs: 500, progressIntervalMs: 30_000 }, workerOpts());
    const steady = r.phases.find((p) => p.phase === 'steady');
    const t0 = r.phaseStarts.steady;
    const samples = r.samples.map((s) => ({ ...s, t: s.t - t0 })).filter((s) => s.t >= 0 && s.t <= seconds);
    const rows = [];
    for (let m = 0.5; m <= LONG_MINUTES + 1e-9; m += LONG_MINUTES >= 4 ? 1 : 0.5) {
      const near = samples.filter((s) => Math.abs(s.t - m * 60) <= 15);
      if (near.length === 0) continue;
      const med = (k) => near.map((s) => s[k]).sort((a, b) => a - b)[Math.floor(near.length / 2)];
      rows.push([fmtFix(m, 1), mb(med('rss')), mb(med('heapUsed')), mb(med('external')), mb(Math.max(...near.map((s) => s.rss)))]);
    }
    const rssEarly = rssAround(samples, early * 60);
    const rssLate = rssAround(samples, late * 60);
    const diff = ((rssLate - rssEarly) / rssEarly) * 100;
    const met = Math.abs(diff) < 10;
    const mix = opOf(steady, 'mix');
    const dropped = mix?.errors?.dropped ?? 0;
    const errs = Object.entries(mix?.errors ?? {}).filter(([k]) => k !== 'dropped').reduce((a, [, v]) => a + v, 0);
    // Is it a leak? The JS heap's trend (least squares over the steady phase) and RSS over the second half.
    const slope = (k) => {
      const xs = samples.map((x) => x.t / 60);
      const ys = samples.map((x) => x[k] / 1048576);
      const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
      const my = ys.reduce((a, b) => a + b, 0) / ys.length;
      let num = 0;
      let den = 0;
      for (let i = 0; i < xs.length; i++) {
        num += (xs[i] - mx) * (ys[i] - my);
        den += (xs[i] - mx) ** 2;
      }
      return den > 0 ? num / den : NaN;
    };
    const rssHalf = rssAround(samples, (LONG_MINUTES * 60) / 2);
    const notes = [
      `duration ${LONG_MINUTES} min${LONG_MINUTES < 16 ? ' (SHORT RUN, not the 16-minute target run)' : ''}; offered ${LONG_RATE}/s; completed ${fmtInt(mix?.ok ?? 0)} (${fmtFix((mix?.ok ?? 0) / (steady.durationMs / 1000), 1)}/s), dropped ${fmtInt(dropped)}, errors ${fmtInt(errs)}; mix latency p50 ${mix?.latencyMs.p50} ms, p99 ${mix?.latencyMs.p99} ms`,
      `RSS at minute ${early}: ${mb(rssEarly)} MB; at minute ${late}: ${mb(rssLate)} MB; difference ${diff >= 0 ? '+' : ''}${diff.toFixed(1)}% (target < 10%: ${pass(met)})`,
      `trend over the steady phase: heapUsed ${fmtFix(slope('heapUsed'), 2)} MB/min, external ${fmtFix(slope('external'), 2)} MB/min; RSS minute ${fmtFix(LONG_MINUTES / 2, 1)} -> ${late}: ${mb(rssHalf)} -> ${mb(rssLate)} MB (${fmtFix(((rssLate - rssHalf) / rssHalf) * 100, 1)}%)`,
      'each row: median of the 500 ms samples within ±15 s of that minute of the steady phase (max = their maximum); harness CPU ' + fmtFix(steady.harness.cpuCores) + ' cores.',
    ];
    return { text: table(`Benchmark 4: long-run harness memory (mix get/list/patch at ${LONG_RATE}/s on kube-apiserver, ${LONG_MINUTES} min)`, ['minute', 'RSS MB', 'heapUsed MB', 'external MB', 'RSS max MB'], rows, notes), met };
  });
}

// ---------------------------------------------------------------------------
// CPU profiles (BENCH_CPU_PROF)
// ---------------------------------------------------------------------------

async function printProfiles(before) {
  const { summarizeProfile } = await import('./cpuprofile-top.mjs');
  const files = (await readdir(CPU_PROF)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f)).sort();
  for (const f of files) process.stderr.write(`\n${await summarizeProfile(path.join(CPU_PROF, f), 20)}\n`);
}

// ---------------------------------------------------------------------------

const summary = [];
let failed = false;
const before = new Set();
/** Benchmark 2 lives in its own script (bench/reference.mjs, a Go client-go reference): run it, pass its table through. */
async function benchReference() {
  const script = new URL('./reference.mjs', import.meta.url).pathname;
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  const untrack = trackPid(child.pid);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  untrack();
  if (code !== 0 && code !== 2) throw new Error(`bench/reference.mjs exited with ${code}`);
  return { text: out.trimEnd() + '\n', met: code === 0 };
}

if (CPU_PROF) {
  await mkdir(CPU_PROF, { recursive: true });
  for (const f of await readdir(CPU_PROF)) before.add(f);
}
progress(`node ${process.version}; benchmarks: ${run.join(', ')}`);
try {
  let nginx;
  let tools;
  if (run.includes('null') || run.includes('open')) {
    tools = ensureNginxAndWrk();
    nginx = await startNginx(tools.nginx);
    progress(`nginx (pid ${nginx.masterPid}, worker ${nginx.workerPids.join(',')}) serving ${nginx.url}`);
  }
  for (const [name, fn] of [
    ['null', () => benchNull(nginx, tools.wrk)],
    ['reference', () => benchReference()],
    ['open', () => benchOpen(nginx)],
    ['watch', () => benchWatch()],
    ['long', () => benchLong()],
  ]) {
    if (!run.includes(name)) continue;
    if (name === 'watch' && nginx) {
      await nginx.stop();
      nginx = undefined;
    }
    try {
      const r = await fn();
      print(r.text);
      summary.push(`${name}: ${pass(r.met)}`);
    } catch (err) {
      failed = true;
      progress(`benchmark ${name} failed: ${err.stack ?? err}`);
      print(`Benchmark ${name}: FAILED: ${String(err.message ?? err).split('\n')[0]}\n`);
      summary.push(`${name}: FAILED`);
    }
  }
  if (nginx) await nginx.stop();
} catch (err) {
  failed = true;
  progress(`benchmark setup failed: ${err.stack ?? err}`);
} finally {
  await runCleanups();
}
print(`targets: ${summary.join('; ')}`);
if (CPU_PROF) await printProfiles(before);
await sleep(10);
process.exit(failed ? 1 : 0);
