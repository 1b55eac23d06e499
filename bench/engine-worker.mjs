/**
 * One measurement in a clean process (so its CPU and RSS are only the load
 * generator's): `node bench/engine-worker.mjs <kind> '<json spec>'`.
 * Prints progress to stderr and one `BENCH_RESULT <json>` line to stdout.
 *
 * kinds:
 *   closed   — runClosed against an HTTPS URL (the null server)
 *   open     — runOpen against an HTTPS URL, with per-arrival schedule lag
 *   scenario — executePlan of a scenario text against a kubeconfig target
 *   kube-op  — runClosed of one GET (path + Accept) against a kubeconfig target,
 *              over HTTP/1.1 or HTTP/2 (bench/reference.mjs, vs client-go)
 *   autocannon — autocannon (npm; the best-known Node HTTP load tool) against the
 *              null server, in-process, warm-up first, CPU over the measured run
 *   pacer    — runOpen of no-op iterations at a rate, no server: the open-model
 *              scheduler's own lag and CPU (its budgets), with the worker-thread
 *              pacer and, for comparison, plain timers
 *   kube-open — runOpen of one GET (path + Accept) at a rate against a kubeconfig
 *              target, as the engine's get/list/discovery ops send it (read:
 *              'count', the phase's signal): latency from the intended start
 *              and the scheduling lag (bench/truth.mjs, vs vegeta)
 */
// First: one clear line instead of a stack trace on an older Node.
import '../bin/check-node.js';
import diagnostics from 'node:diagnostics_channel';
import { readFileSync, writeFileSync } from 'node:fs';
import { runClosed, runOpen } from '../dist/engine/load-models.js';
import { startPacer, TimerPacer } from '../dist/engine/pacer.js';
import { KubeClient, JSON_HEADERS, RequestError } from '../dist/kube/client.js';
import { newHistogram, latencySummaryMs } from '../dist/metrics/histogram.js';
import { PhaseRecorder } from '../dist/metrics/recorder.js';

const [kind, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson ?? '{}');
const log = (m) => process.stderr.write(`[worker ${kind}] ${m}\n`);

function nullClient(connections) {
  /** A hand-made Connection, as target.ts would build it, to the null server. */
  const connection = {
    server: new URL(spec.url),
    context: 'bench',
    local: false,
    tls: { ca: readFileSync(spec.caFile), rejectUnauthorized: true },
    headers: {},
  };
  return new KubeClient(connection, { connections });
}

/** The iteration every HTTP benchmark drives: one GET with prebuilt headers, read as the engine's ops read (`read: 'count'`: every byte counted, the head kept; over HTTP/1.1 the lean client of src/kube/http1.ts). */
function getIteration(client) {
  const req = { method: 'GET', path: '/x', headers: client.headers(JSON_HEADERS), read: 'count' };
  return async () => {
    try {
      const res = await client.send(req);
      return res.status === 200 ? { bytes: res.bytes, endedAt: res.receivedAt } : { error: `http-${res.status}` };
    } catch (err) {
      return { error: err instanceof RequestError ? err.errorClass : 'connection', message: err.message };
    }
  };
}

function errorsOf(recorder) {
  const out = {};
  for (const s of recorder.summaries()) for (const [k, v] of Object.entries(s.errors)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * The measured window of a closed run: `BENCH_MARK start <pid>` / `end` lines
 * around it (the caller reads server CPU there, and may look at this process's
 * sockets by the pid), wall time and this process's CPU over it.
 */
async function measuredClosed(concurrency, durationMs, signal, iteration, sink) {
  process.stdout.write(`BENCH_MARK start ${process.pid}\n`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const iterations = await runClosed(concurrency, { durationMs, signal }, iteration, sink);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write('BENCH_MARK end\n');
  return { iterations, wallMs, cpu };
}

async function closed() {
  const client = nullClient(spec.connections);
  const iteration = getIteration(client);
  const signal = new AbortController().signal;
  if (spec.warmupMs > 0) {
    const warm = new PhaseRecorder();
    await runClosed(spec.concurrency, { durationMs: spec.warmupMs, signal }, iteration, (l, o) => warm.record('get', l, o.error, o.bytes));
  }
  const recorder = new PhaseRecorder();
  const sink = (latencyUs, outcome) => recorder.record('get', latencyUs, outcome.error, outcome.bytes, outcome.message);
  const { iterations, wallMs, cpu } = await measuredClosed(spec.concurrency, spec.durationMs, signal, iteration, sink);
  recorder.finish();
  await client.close();
  const s = recorder.summaries()[0];
  return {
    iterations,
    ok: s?.ok ?? 0,
    errors: errorsOf(recorder),
    wallMs,
    cpuUs: cpu.user + cpu.system,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    latencyMs: s?.latencyMs,
    rssBytes: process.memoryUsage.rss(),
  };
}

async function open() {
  const client = nullClient(spec.connections);
  const get = getIteration(client);
  const signal = new AbortController().signal;
  if (spec.warmupMs > 0) await runClosed(spec.connections, { durationMs: spec.warmupMs, signal }, get, () => {});
  const model = { ratePerSecond: spec.rate, maxInFlight: spec.maxInFlight };
  const latency = newHistogram();
  let errors = 0;
  let ok = 0;
  let lastStart = 0;
  const iteration = (index, sig) => {
    lastStart = performance.now();
    return get(index, sig);
  };
  const sink = (latencyUs, outcome) => {
    if (outcome.error === 'dropped') return;
    if (outcome.error) errors++;
    else {
      ok++;
      latency.recordValue(Math.max(1, Math.round(latencyUs)));
    }
  };
  // The pacer (a worker thread) is started before the window, as a run's phase
  // does; the lag is runOpen's own (intended start -> sent, every started arrival).
  const pacer = await startPacer();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { lag, ...stats } = await runOpen(model, { durationMs: spec.durationMs, signal }, iteration, sink, { pacer });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await pacer.close();
  await client.close();
  return {
    ...stats,
    ok,
    errors,
    wallMs,
    startWindowMs: lastStart - t0,
    cpuUs: cpu.user + cpu.system,
    latencyMs: latencySummaryMs(latency),
    lagMs: latencySummaryMs(lag),
  };
}

async function scenario() {
  const { connectionForLocalControlPlane } = await import('../dist/kube/target.js');
  const { parseScenario } = await import('../dist/scenarios/parse.js');
  const { compilePlan } = await import('../dist/scenarios/plan.js');
  const { executePlan } = await import('../dist/engine/run.js');
  const { newRunId } = await import('../dist/generators/run-id.js');
  const plan = compilePlan(parseScenario(spec.scenarioText, `${spec.name}.yaml`));
  // As the CLI does for the embedded control plane (no @kubernetes/client-node loaded).
  const connection = await connectionForLocalControlPlane(spec.kubeconfig);
  const client = new KubeClient(connection, { connections: spec.connections ?? 32 });
  const t0 = performance.now();
  const samples = [];
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ t: Math.round(performance.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
  };
  sample();
  const sampler = setInterval(sample, spec.sampleMs ?? 500);
  const phaseStarts = {};
  const phaseStartsEpoch = {};
  const onEvent = (e) => {
    switch (e.type) {
      case 'phase-start':
        phaseStarts[e.phase] = Math.round(performance.now() - t0) / 1000;
        phaseStartsEpoch[e.phase] = Date.now();
        log(`phase ${e.phase} (${e.load}${e.total !== undefined ? `, ${e.total} iterations` : ''})`);
        break;
      case 'phase-progress':
        log(`  ${e.phase}: ${e.done}${e.total !== undefined ? `/${e.total}` : ''} done, ${e.errors} errors, rss ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MB`);
        break;
      case 'message':
        log(e.message);
        break;
      case 'phase-end':
        log(`phase ${e.result.phase} ended after ${(e.result.durationMs / 1000).toFixed(1)} s; harness rss max ${(e.result.harness.rssMaxBytes / 1048576).toFixed(0)} MB`);
        break;
    }
  };
  const tracker = spec.trackWatches ? trackWatchRequests(t0) : undefined;
  const abort = new AbortController();
  process.on('SIGTERM', () => abort.abort('SIGTERM'));
  const result = await executePlan(plan, { client, runId: newRunId(), local: true, signal: abort.signal, onEvent, progressIntervalMs: spec.progressIntervalMs ?? 5000 });
  clearInterval(sampler);
  sample();
  await client.close();
  return {
    status: result.status,
    reason: result.reason,
    cleanup: result.cleanup,
    phaseStarts,
    phaseStartsEpoch,
    watchTracking: tracker?.summary(phaseStarts),
    phases: result.phases.map((p) => ({ ...p, ops: p.ops.map(({ histogram: _h, ...rest }) => rest) })),
    samples,
  };
}

/**
 * Client-side timing of the watchers, from undici's diagnostics channels (no
 * change to the engine): when each watcher's initial list (its starting
 * resourceVersion) was answered and its watch opened, and when each patch was
 * sent. A watcher gets a patch's event iff its list was served before the
 * patch was committed, so "reachable" counts, per patch, the watchers of that
 * CRD whose list had been answered before the patch was even created (a lower
 * bound; lists answered while the patch was in flight are the uncertain rest).
 */
function trackWatchRequests(t0) {
  const lists = new Map(); // crd -> [ms]
  const opens = [];
  const patches = []; // { crd, created, ok }
  const created = new WeakMap();
  const crdOf = (p) => {
    const segs = p.split('?')[0].split('/');
    if (segs[1] !== 'apis' || segs.length < 5) return undefined;
    return `${segs[2]}/${segs[4] === 'namespaces' ? segs[6] : segs[4]}`;
  };
  const onCreate = ({ request }) => {
    if (request.method === 'PATCH') created.set(request, performance.now() - t0);
  };
  const onHeaders = ({ request, response }) => {
    const t = performance.now() - t0;
    const p = request.path;
    if (request.method === 'PATCH') {
      const crd = crdOf(p);
      if (crd) patches.push({ crd, created: created.get(request) ?? t, ok: response.statusCode < 300 });
    } else if (request.method === 'GET' && response.statusCode === 200) {
      if (/[?&]watch=(1|true)/.test(p)) opens.push(t);
      else if (/[?&]limit=1(&|$)/.test(p) && !p.includes('resourceVersion=')) {
        const crd = crdOf(p);
        if (crd) (lists.get(crd) ?? lists.set(crd, []).get(crd)).push(t);
      }
    }
  };
  diagnostics.subscribe('undici:request:create', onCreate);
  diagnostics.subscribe('undici:request:headers', onHeaders);
  return {
    summary(phaseStarts) {
      diagnostics.unsubscribe('undici:request:create', onCreate);
      diagnostics.unsubscribe('undici:request:headers', onHeaders);
      for (const v of lists.values()) v.sort((a, b) => a - b);
      const countBefore = (arr, t) => {
        let lo = 0;
        let hi = arr.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (arr[mid] < t) lo = mid + 1;
          else hi = mid;
        }
        return lo;
      };
      let reachable = 0;
      let reachableUpper = 0;
      const okPatches = patches.filter((x) => x.ok);
      for (const x of okPatches) {
        const arr = lists.get(x.crd) ?? [];
        reachable += countBefore(arr, x.created);
        reachableUpper += arr.length;
      }
      opens.sort((a, b) => a - b);
      const w = (phaseStarts.watch ?? 0) * 1000;
      const sec = (ms) => (ms === undefined ? undefined : Math.round(ms - w) / 1000);
      const sortedPatch = okPatches.map((x) => x.created).sort((a, b) => a - b);
      return {
        watchesOpened: opens.length,
        firstOpenS: sec(opens[0]),
        halfOpenS: sec(opens[Math.floor(opens.length / 2)]),
        lastOpenS: sec(opens.at(-1)),
        lastListS: sec(Math.max(...[...lists.values()].map((a) => a.at(-1) ?? -Infinity))),
        firstPatchS: sec(sortedPatch[0]),
        lastPatchS: sec(sortedPatch.at(-1)),
        okPatches: okPatches.length,
        reachable,
        reachableUpper,
      };
    },
  };
}

/**
 * One GET, prebuilt (path, Accept, credentials), driven by runClosed through
 * KubeClient against a kubeconfig target: the asa-bench side of
 * bench/reference.mjs. The whole body is read (`read: 'body'`, as client-go's
 * DoRaw does) unless spec.read says otherwise; the status must be 200.
 */
async function kubeOp() {
  const { connectionFromKubeconfig } = await import('../dist/kube/target.js');
  const connection = await connectionFromKubeconfig({ kubeconfig: spec.kubeconfig, context: spec.context, local: true });
  const client = new KubeClient(connection, { connections: spec.connections, http2: spec.http2 === true });
  // ALPN of every connection the pool opens (a check that http2 did what it says).
  const alpn = {};
  const onConnected = ({ socket }) => {
    const p = socket?.alpnProtocol || 'http/1.1';
    alpn[p] = (alpn[p] ?? 0) + 1;
  };
  diagnostics.subscribe('undici:client:connected', onConnected);
  const req = { method: 'GET', path: spec.path, headers: client.headers({ accept: spec.accept }), read: spec.read ?? 'body' };
  const iteration = async () => {
    try {
      const res = await client.send(req);
      return res.status === 200 ? { bytes: res.bytes ?? res.body.length, endedAt: res.receivedAt } : { error: `http-${res.status}`, message: res.body.toString('utf8').slice(0, 300) };
    } catch (err) {
      return { error: err instanceof RequestError ? err.errorClass : 'connection', message: err.message };
    }
  };
  const first = await iteration();
  if (first.error) throw new Error(`first request ${spec.path}: ${first.error}: ${first.message ?? ''}`);
  const signal = new AbortController().signal;
  if (spec.warmupMs > 0) await runClosed(spec.concurrency, { durationMs: spec.warmupMs, signal }, iteration, () => {});
  const recorder = new PhaseRecorder();
  const sink = (latencyUs, outcome) => recorder.record('op', latencyUs, outcome.error, outcome.bytes, outcome.message);
  // spec.cpuProfFile: a V8 CPU profile of the measured window only (not start-up,
  // warm-up or the summary), through the inspector, written as a .cpuprofile.
  let session;
  if (spec.cpuProfFile) {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: spec.cpuProfIntervalUs ?? 1000 });
    await session.post('Profiler.start');
  }
  const { iterations, wallMs, cpu } = await measuredClosed(spec.concurrency, spec.durationMs, signal, iteration, sink);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(spec.cpuProfFile, JSON.stringify(profile));
  }
  recorder.finish();
  diagnostics.unsubscribe('undici:client:connected', onConnected);
  await client.close();
  const s = recorder.summaries()[0];
  return {
    iterations,
    ok: s?.ok ?? 0,
    errors: errorsOf(recorder),
    errorExamples: s?.errorExamples,
    bytes: s?.bytes,
    wallMs,
    cpuUs: cpu.user + cpu.system,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    latencyMs: s?.latencyMs,
    alpn,
    retries: client.retries,
    rssBytes: process.memoryUsage.rss(),
  };
}

/**
 * The asa-bench side of bench/truth.mjs: runOpen at spec.rate for spec.durationMs
 * after spec.warmupMs at the same rate (connections opened, code warm), the
 * request sent as the engine's ops send it. Latency from the intended start
 * (what a run reports), the scheduling lag apart.
 */
async function kubeOpen() {
  const { connectionFromKubeconfig } = await import('../dist/kube/target.js');
  const connection = await connectionFromKubeconfig({ kubeconfig: spec.kubeconfig, context: spec.context, local: true });
  const client = new KubeClient(connection, { connections: spec.connections ?? 32 });
  const headers = client.headers({ accept: spec.accept });
  const signal = new AbortController().signal;
  const req = { method: 'GET', path: spec.path, headers, signal, read: 'count' };
  // Latency from the send (the iteration's own start), as vegeta measures it: the
  // recorded latency minus the scheduling lag, so the table can tell the two apart.
  let sent;
  const iteration = async (_i, sig) => {
    const t = performance.now();
    try {
      const res = await client.expectOk({ ...req, signal: sig });
      sent?.recordValue(Math.max(1, Math.round(((res.receivedAt ?? performance.now()) - t) * 1000)));
      return { bytes: res.bytes, endedAt: res.receivedAt };
    } catch (err) {
      return { error: err instanceof RequestError ? err.errorClass : 'connection', message: err.message };
    }
  };
  const first = await iteration(0, signal);
  if (first.error) throw new Error(`first request ${spec.path}: ${first.error}: ${first.message ?? ''}`);
  const model = { ratePerSecond: spec.rate, maxInFlight: spec.maxInFlight ?? 1000 };
  if (spec.warmupMs > 0) await runOpen(model, { durationMs: spec.warmupMs, signal }, iteration, () => {});
  const recorder = new PhaseRecorder();
  const sink = (latencyUs, outcome) => recorder.record('op', latencyUs, outcome.error, outcome.bytes, outcome.message);
  sent = newHistogram();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stats = await runOpen(model, { durationMs: spec.durationMs, signal }, iteration, sink);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  recorder.finish();
  await client.close();
  const s = recorder.summaries()[0];
  return {
    scheduled: stats.scheduled,
    started: stats.started,
    dropped: stats.dropped,
    ok: s?.ok ?? 0,
    errors: errorsOf(recorder),
    errorExamples: s?.errorExamples,
    bytes: s?.bytes,
    wallMs,
    cpuUs: cpu.user + cpu.system,
    latencyMs: s?.latencyMs,
    lagMs: latencySummaryMs(stats.lag),
    sentMs: latencySummaryMs(sent),
    spunMs: stats.spunMs,
  };
}

/**
 * autocannon in this process (no worker threads: one event loop, as the engine
 * runs), the same URL and connections as `closed`, after a warm-up of its own;
 * CPU is this process's over the measured run only.
 */
async function autocannonRun() {
  const { default: autocannon } = await import('autocannon');
  const opts = { url: `${spec.url}/x`, connections: spec.connections, pipelining: 1, headers: { accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'asa-bench' } };
  if (spec.warmupMs > 0) await autocannon({ ...opts, duration: spec.warmupMs / 1000 });
  process.stdout.write('BENCH_MARK start\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await autocannon({ ...opts, duration: spec.durationMs / 1000 });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write('BENCH_MARK end\n');
  return {
    iterations: r.requests.total,
    ok: r['2xx'],
    errors: { errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx },
    wallMs,
    cpuUs: cpu.user + cpu.system,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99 },
  };
}

/** The scheduler alone: no-op iterations, so the process CPU is the scheduler's (and its pacer thread's). */
async function pacerRun() {
  const signal = new AbortController().signal;
  const pacer = spec.pacer === 'timers' ? new TimerPacer() : await startPacer();
  const model = { ratePerSecond: spec.rate, maxInFlight: 10_000 };
  // Warm-up (JIT, the pacer's wake-delay estimate), then the measured window.
  await runOpen(model, { durationMs: 500, signal }, async () => ({}), () => {}, { pacer });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { lag, ...stats } = await runOpen(model, { durationMs: spec.durationMs, signal }, async () => ({}), () => {}, { pacer });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await pacer.close();
  return { ...stats, wallMs, cores: (cpu.user + cpu.system) / 1000 / wallMs, lagMs: latencySummaryMs(lag) };
}

const kinds = { closed, open, pacer: pacerRun, scenario, 'kube-op': kubeOp, 'kube-open': kubeOpen, autocannon: autocannonRun };
if (!kinds[kind]) {
  log(`unknown kind ${kind}; expected ${Object.keys(kinds).join(', ')}`);
  process.exit(2);
}
try {
  const result = await kinds[kind]();
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  // Watch pools and timers may linger; the result is out.
  process.exit(0);
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  process.exit(1);
}
