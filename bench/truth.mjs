/**
 * Truth benchmark (`npm run bench:truth`): do asa-bench's latencies agree with
 * an observer nobody here wrote? On the local control plane, asa-bench's open
 * model (runOpen + KubeClient, as a run sends gets, lists and discovery) and
 * vegeta v12.13.0 (Go, open model) send the same request (path, Accept, the
 * load user's token, HTTP/1.1, no gzip) at the same rate, interleaved, and the
 * table compares their p50 and p99. A closed row (concurrency 1, get) compares
 * runClosed with hey.
 *
 * vegeta's latency starts when a worker picks up the tick (its own lateness is
 * not in it); asa-bench's starts at the intended time (its scheduling lag is in
 * it, and shown apart): agreement needs a precise scheduler as well as a lean
 * transport.
 *
 * Both tools are built from the Go module proxy (`go install module@version`)
 * into asaHome()/bin/bench-tools/ once. Needs Go 1.26+ on PATH and dist/.
 *
 * Environment knobs [defaults]:
 *   BENCH_TRUTH_CASES [get@100,get@1000,discovery@100,discovery@1000,list-cache@20,list-cache@100]
 *                                 op@rate; ops: get (quorum, one small Widget), discovery
 *                                 (aggregated /apis), list-cache (500 Widgets, resourceVersion=0)
 *   BENCH_TRUTH_SECONDS [10]      measured seconds per run
 *   BENCH_TRUTH_WARMUP_SECONDS [2] at the same rate, before the window (both tools)
 *   BENCH_TRUTH_ROUNDS [3]        interleaved rounds (who goes first alternates)
 *   BENCH_TRUTH_CLOSED [1]        0: leave out the closed concurrency-1 row (asa-bench vs hey)
 *   BENCH_TRUTH_OBJECTS [500]     Widgets listed by list-cache
 *   BENCH_SERVER_VERSION          kube-apiserver version (default: DEFAULT_SERVER_VERSION)
 * Exit: 0 targets met, 2 measured and not met, 1 the benchmark failed.
 */
// First: one clear line instead of a stack trace on an older Node.
import '../bin/check-node.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createFixtures, request, startServer } from './kube-fixtures.mjs';
import { fmtFix, fmtInt, installSignalHandlers, median, onCleanup, pass, progress, runMain, runWorker, stopPid, table, trackPid } from './lib.mjs';

installSignalHandlers();

const env = process.env;
const num = (name, def) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : def);
const SECONDS = num('BENCH_TRUTH_SECONDS', 10);
const WARMUP_SECONDS = num('BENCH_TRUTH_WARMUP_SECONDS', 2);
const ROUNDS = Math.max(1, num('BENCH_TRUTH_ROUNDS', 3));
const CLOSED = env.BENCH_TRUTH_CLOSED !== '0';
const OBJECTS = num('BENCH_TRUTH_OBJECTS', 500);
const CASES = (env.BENCH_TRUTH_CASES ?? 'get@100,get@1000,discovery@100,discovery@1000,list-cache@20,list-cache@100')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => {
    const [op, rate] = s.split('@');
    if (!['get', 'discovery', 'list-cache'].includes(op) || !(Number(rate) > 0)) throw new Error(`BENCH_TRUTH_CASES: expected op@rate with op get|discovery|list-cache, got ${s}`);
    return { op, rate: Number(rate) };
  });
/** Targets: asa-bench / vegeta within these bounds. */
const P50_BOUND = 0.15;
const P99_BOUND = 0.35;
const TOOLS = {
  vegeta: { module: 'github.com/tsenart/vegeta/v12', version: 'v12.13.0', bin: 'vegeta' },
  hey: { module: 'github.com/rakyll/hey', version: 'v0.1.4', bin: 'hey' },
};
const print = (text) => process.stdout.write(`${text}\n`);

// ---------------------------------------------------------------------------
// Tools from the Go module proxy
// ---------------------------------------------------------------------------

async function goInstall(tool) {
  const { asaHome } = await import('../dist/controlplane/paths.js');
  const dir = path.join(asaHome(), 'bin', 'bench-tools', `${tool.bin}-${tool.version}`);
  const bin = path.join(dir, tool.bin);
  if (existsSync(bin)) return bin;
  await mkdir(dir, { recursive: true });
  progress(`building ${tool.module}@${tool.version} (go install, from the Go module proxy) -> ${bin}`);
  const t0 = performance.now();
  const r = spawnSync('go', ['install', '-trimpath', `${tool.module}@${tool.version}`], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, GOBIN: dir, GOFLAGS: '-mod=mod' } });
  if (r.error) throw new Error(`go install: ${r.error.message} (Go 1.26+ must be on PATH)`);
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`go install ${tool.module}@${tool.version} failed (exit ${r.status})`);
  progress(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return bin;
}

/** Runs a command to its end; resolves with stdout (rejects with stderr's tail on a failure). */
function run(bin, args, { timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = trackPid(child.pid);
    const stop = onCleanup(path.basename(bin), () => stopPid(child.pid, 5000));
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', async (code, signal) => {
      clearTimeout(timer);
      untrack();
      await stop();
      if (code !== 0) reject(new Error(`${path.basename(bin)} ${args[0]} failed (exit ${code ?? signal}): ${err.slice(-600)}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
  });
}

// ---------------------------------------------------------------------------
// Latency summaries (HDR histograms, µs)
// ---------------------------------------------------------------------------

async function summarize(latenciesUs) {
  const { newHistogram, latencySummaryMs } = await import('../dist/metrics/histogram.js');
  const h = newHistogram();
  for (const us of latenciesUs) h.recordValue(Math.max(1, Math.round(us)));
  return latencySummaryMs(h);
}

// ---------------------------------------------------------------------------
// One measurement per tool
// ---------------------------------------------------------------------------

async function measureVegeta(bin, target, { op, rate }) {
  const { path: p, accept } = request(op);
  const dir = target.tmp;
  const targets = path.join(dir, 'targets.txt');
  const out = path.join(dir, `vegeta-${op}-${rate}-${Date.now()}.bin`);
  await writeFile(targets, `GET ${target.server}${p}\n`);
  const seconds = WARMUP_SECONDS + SECONDS;
  // http2=false: HTTP/1.1 as asa-bench; Accept-Encoding identity: Go's transport would ask for
  // gzip, and the API server compresses bodies over 128 KiB (the list) for clients that do.
  // max-body 0: bodies are read whole and dropped, not kept in the results.
  await run(
    bin,
    [
      'attack',
      `-targets=${targets}`,
      `-rate=${rate}/1s`,
      `-duration=${seconds}s`,
      '-http2=false',
      `-root-certs=${target.caFile}`,
      '-header', `Authorization: Bearer ${target.token}`,
      '-header', `Accept: ${accept}`,
      '-header', 'Accept-Encoding: identity',
      '-max-body=0',
      // As asa-bench: at most 32 connections (requests beyond wait for one, inside the latency).
      '-max-connections=32',
      '-timeout=30s',
      `-output=${out}`,
    ],
    { timeoutMs: (seconds + 60) * 1000 },
  );
  const csv = await run(bin, ['encode', '--to', 'csv', out], { timeoutMs: 120_000 });
  await rm(out, { force: true });
  // timestamp (unix ns), code, latency (ns), bytes out, bytes in, error, ...
  const rows = csv.split('\n').filter(Boolean).map((line) => line.split(',', 5));
  const start = Math.min(...rows.map((r) => Number(r[0]) / 1e6));
  const window = rows.filter((r) => Number(r[0]) / 1e6 >= start + WARMUP_SECONDS * 1000);
  const ok = window.filter((r) => r[1] === '200');
  return { tool: 'vegeta', count: window.length, ok: ok.length, errors: window.length - ok.length, latencyMs: await summarize(ok.map((r) => Number(r[2]) / 1000)) };
}

async function measureAsaOpen(target, { op, rate }) {
  const { path: p, accept } = request(op);
  const r = await runWorker('kube-open', { kubeconfig: target.kubeconfig, context: 'asa-bench-local', path: p, accept, rate, durationMs: SECONDS * 1000, warmupMs: WARMUP_SECONDS * 1000, connections: 32 });
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return { tool: 'asa-bench', count: r.started, ok: r.ok, errors, dropped: r.dropped, latencyMs: r.latencyMs, lagMs: r.lagMs, sentMs: r.sentMs, cpuCores: r.cpuUs / 1000 / r.wallMs, errorExample: r.errorExamples ? Object.values(r.errorExamples)[0] : undefined };
}

async function measureHey(bin, target) {
  const { path: p, accept } = request('get');
  const seconds = WARMUP_SECONDS + SECONDS;
  // hey skips certificate verification (InsecureSkipVerify) and has no CA flag: same TLS work.
  const csv = await run(bin, ['-z', `${seconds}s`, '-c', '1', '-disable-compression', '-H', `Authorization: Bearer ${target.token}`, '-H', `Accept: ${accept}`, '-o', 'csv', `${target.server}${p}`], { timeoutMs: (seconds + 60) * 1000 });
  // response-time (s), DNS+dialup, DNS, request-write, response-delay, response-read, status-code, offset (s)
  const rows = csv.split('\n').slice(1).filter(Boolean).map((l) => l.split(','));
  const window = rows.filter((r) => Number(r[7]) >= WARMUP_SECONDS);
  const ok = window.filter((r) => r[6] === '200');
  return { tool: 'hey', count: window.length, ok: ok.length, errors: window.length - ok.length, rps: window.length / SECONDS, latencyMs: await summarize(ok.map((r) => Number(r[0]) * 1e6)) };
}

async function measureAsaClosed(target) {
  const { path: p, accept } = request('get');
  const r = await runWorker('kube-op', { kubeconfig: target.kubeconfig, context: 'asa-bench-local', path: p, accept, connections: 1, concurrency: 1, durationMs: SECONDS * 1000, warmupMs: WARMUP_SECONDS * 1000, read: 'count' });
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return { tool: 'asa-bench', count: r.iterations, ok: r.ok, errors, rps: r.iterations / (r.wallMs / 1000), latencyMs: r.latencyMs, cpuCores: r.cpuUs / 1000 / r.wallMs };
}

// ---------------------------------------------------------------------------

const range = (xs, digits = 2) => {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length === 0 ? '-' : v.length === 1 ? fmtFix(v[0], digits) : `${fmtFix(Math.min(...v), digits)}–${fmtFix(Math.max(...v), digits)}`;
};

async function main() {
  progress(`node ${process.version}; cases ${CASES.map((c) => `${c.op}@${c.rate}/s`).join(', ')}; ${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up; ${ROUNDS} round(s)${CLOSED ? '; closed c=1 vs hey' : ''}`);
  const vegeta = await goInstall(TOOLS.vegeta);
  const hey = CLOSED ? await goInstall(TOOLS.hey) : undefined;
  const { cp, version } = await startServer();
  const ops = [...new Set(CASES.map((c) => c.op).concat(CLOSED ? ['get'] : []))];
  const sizes = await createFixtures(cp, OBJECTS, ops);
  for (const op of ops) progress(`${op}: ${request(op).path} -> ${fmtInt(sizes[op].bytes)} bytes`);
  // The load user's credential, as the engine reads it for the local control plane.
  const { connectionForLocalControlPlane } = await import('../dist/kube/target.js');
  const connection = await connectionForLocalControlPlane(cp.kubeconfig);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-bench-truth-'));
  const removeTmp = onCleanup('truth temp dir', () => rm(tmp, { recursive: true, force: true }));
  const caFile = path.join(tmp, 'ca.pem');
  await writeFile(caFile, connection.tls.ca);
  const target = { kubeconfig: cp.kubeconfig, server: connection.server.origin, token: /^Bearer (.+)$/.exec(connection.headers.authorization)[1], caFile, tmp };

  const results = new Map(); // `${op}@${rate}` -> { asa: [], vegeta: [] }
  const closed = { asa: [], hey: [] };
  let order = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CASES) {
      const key = `${c.op}@${c.rate}`;
      const slot = results.get(key) ?? results.set(key, { asa: [], vegeta: [] }).get(key);
      const seq = order++ % 2 === 0 ? ['asa', 'vegeta'] : ['vegeta', 'asa'];
      for (const tool of seq) {
        progress(`round ${round + 1}/${ROUNDS}: ${c.op} at ${c.rate}/s, ${tool === 'asa' ? 'asa-bench' : 'vegeta'}`);
        const r = tool === 'asa' ? await measureAsaOpen(target, c) : await measureVegeta(vegeta, target, c);
        progress(`  p50 ${fmtFix(r.latencyMs.p50, 3)} ms, p99 ${fmtFix(r.latencyMs.p99, 3)} ms${r.lagMs ? `, lag p50 ${fmtFix(r.lagMs.p50, 3)} / p99 ${fmtFix(r.lagMs.p99, 3)} ms` : ''}; ${fmtInt(r.ok)} ok, ${r.errors} errors`);
        slot[tool].push(r);
      }
    }
    if (CLOSED) {
      const seq = round % 2 === 0 ? ['asa', 'hey'] : ['hey', 'asa'];
      for (const tool of seq) {
        progress(`round ${round + 1}/${ROUNDS}: get, closed concurrency 1, ${tool === 'asa' ? 'asa-bench' : 'hey'}`);
        const r = tool === 'asa' ? await measureAsaClosed(target) : await measureHey(hey, target);
        progress(`  ${fmtInt(r.rps)} req/s, p50 ${fmtFix(r.latencyMs.p50, 3)} ms, p99 ${fmtFix(r.latencyMs.p99, 3)} ms; ${r.errors} errors`);
        closed[tool].push(r);
      }
    }
  }
  await removeTmp();

  const rows = [];
  const notes = [];
  let allMet = true;
  for (const c of CASES) {
    const { asa, vegeta: veg } = results.get(`${c.op}@${c.rate}`);
    // Per round (interleaved pairs), then the median of the rounds' ratios.
    const r50 = asa.map((a, i) => a.latencyMs.p50 / veg[i].latencyMs.p50);
    const r99 = asa.map((a, i) => a.latencyMs.p99 / veg[i].latencyMs.p99);
    const s50 = median(asa.map((a, i) => a.sentMs.p50 / veg[i].latencyMs.p50));
    const s99 = median(asa.map((a, i) => a.sentMs.p99 / veg[i].latencyMs.p99));
    const m50 = median(r50);
    const m99 = median(r99);
    const met50 = Math.abs(m50 - 1) <= P50_BOUND;
    const met99 = Math.abs(m99 - 1) <= P99_BOUND;
    allMet &&= met50 && met99;
    const errors = asa.reduce((a, r) => a + r.errors + (r.dropped ?? 0), 0) + veg.reduce((a, r) => a + r.errors, 0);
    rows.push([
      c.op,
      `${fmtInt(c.rate)}/s`,
      `${range(asa.map((r) => r.latencyMs.p50))} / ${range(asa.map((r) => r.latencyMs.p99))}`,
      `${range(asa.map((r) => r.lagMs.p50), 3)} / ${range(asa.map((r) => r.lagMs.p99), 3)}`,
      `${range(veg.map((r) => r.latencyMs.p50))} / ${range(veg.map((r) => r.latencyMs.p99))}`,
      `${fmtFix(m50, 2)} / ${fmtFix(m99, 2)}`,
      `${range(r50)} / ${range(r99)}`,
      `${pass(met50)} / ${pass(met99)}`,
      `${range(asa.map((r) => r.sentMs.p50))} / ${range(asa.map((r) => r.sentMs.p99))}`,
      `${fmtFix(s50, 2)} / ${fmtFix(s99, 2)}`,
      fmtFix(median(asa.map((r) => r.cpuCores)), 2),
      errors,
    ]);
    for (const r of asa) if (r.errorExample) notes.push(`asa-bench ${c.op}@${c.rate}: ${String(r.errorExample).slice(0, 200)}`);
  }
  notes.push(
    '',
    `targets: asa-bench/vegeta p50 within ±${P50_BOUND * 100} % and p99 within ±${P99_BOUND * 100} % (median of the per-round ratios): ${allMet ? 'MET' : 'NOT MET'}`,
    `latency p50 / p99 ms, ranges over ${ROUNDS} interleaved round(s) (who goes first alternates); ${SECONDS} s measured after ${WARMUP_SECONDS} s at the same rate (connections open, code warm) in the same process.`,
    "asa-bench: runOpen + KubeClient (32 connections at most, opened as needed; read: 'count' with the phase's signal, as a run's get/list/discovery ops), latency from the intended start; lag = intended start → sent (in the latency).",
    "asa from sent: the same requests timed from the iteration's start (the send), as vegeta times them; its ratio to vegeta separates the transport (this one) from the scheduler (lag). asa cores: the asa-bench process's CPU over the window (median of rounds).",
    `vegeta ${TOOLS.vegeta.version}: attack -http2=false -root-certs (the control plane's CA) -max-body=0 -max-connections=32 -header Accept-Encoding: identity; latency from the worker's pickup of each tick (vegeta's own lateness is not in it).`,
    `same path, Accept and credential (load user asa-bench-local, through API Priority and Fairness); kube-apiserver ${version} + etcd on loopback, on this ${os.availableParallelism()}-core machine shared by server, etcd and client. bodies: ${ops.map((op) => `${op} ${fmtInt(sizes[op].bytes)} B`).join(', ')}.`,
  );
  print(
    table(
      `Truth: asa-bench open model vs vegeta ${TOOLS.vegeta.version} on kube-apiserver ${version} (HTTP/1.1, ${SECONDS} s x ${ROUNDS})`,
      ['operation', 'rate', 'asa-bench p50 / p99 ms', 'asa lag p50 / p99 ms', 'vegeta p50 / p99 ms', 'ratio p50 / p99', 'ratio ranges', 'target p50 / p99', 'asa from sent p50 / p99 ms', 'from-sent ratio p50 / p99', 'asa cores', 'errors'],
      rows,
      notes,
    ),
  );
  if (CLOSED) {
    const ratio = (k) => median(closed.asa.map((a, i) => a.latencyMs[k] / closed.hey[i].latencyMs[k]));
    const rps = median(closed.asa.map((a, i) => a.rps / closed.hey[i].rps));
    const crow = (name, rs) => [name, range(rs.map((r) => r.rps), 0), range(rs.map((r) => r.latencyMs.p50), 3), range(rs.map((r) => r.latencyMs.p99), 3), range(rs.map((r) => r.latencyMs.max), 2), rs.reduce((a, r) => a + r.errors, 0)];
    print(
      table(
        `Closed model, concurrency 1, get: asa-bench runClosed vs hey ${TOOLS.hey.version} (HTTP/1.1, one connection, ${SECONDS} s x ${ROUNDS})`,
        ['client', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors'],
        [crow('asa-bench', closed.asa), crow('hey', closed.hey)],
        [`ratio asa-bench/hey (median of rounds): p50 ${fmtFix(ratio('p50'), 2)}, p99 ${fmtFix(ratio('p99'), 2)}, throughput ${fmtFix(rps, 2)}; hey: -c 1 -disable-compression, latency per request from its CSV (-o csv), warm-up seconds dropped.`],
      ),
    );
  }
  return allMet;
}

await runMain(main);
