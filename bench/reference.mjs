/**
 * Benchmark #2 of issue 5: the real kube-apiserver, driven by the asa-bench
 * engine and by a reference load client written in Go with k8s.io/client-go
 * (bench/reference/), side by side in one run on this machine.
 *
 *   ops:       get          GET of one custom object
 *              list-quorum  LIST of 500 small custom objects, no resourceVersion
 *              list-cache   the same LIST with resourceVersion=0 (watch cache)
 *              discovery    aggregated discovery: GET /apis, Accept apidiscovery.k8s.io/v2
 *   protocols: HTTP/1.1 (connections = concurrency, as Go's transport opens them)
 *              HTTP/2   (one connection, streams multiplexed, as client-go does)
 *   clients:   asa-bench          runClosed + KubeClient (dist/), `engine-worker.mjs kube-op`
 *              client-go raw      rest.RESTClient ... DoRaw: whole body read, nothing decoded
 *                                 (the same work per request as asa-bench: the strict reference)
 *              client-go decoded  dynamic client (unstructured) for GET/LIST, discovery as
 *                                 DiscoveryClient decodes /apis: what client-go tools pay
 *
 * Each client runs in its own process at the same concurrency for the same
 * measured time after the same warm-up, in alternating order, with the same
 * path, Accept header and credential (the non-admin load user, so both go
 * through API Priority and Fairness alike). Client CPU = user+system of the
 * whole client process over the measured window (Go: getrusage(RUSAGE_SELF);
 * Node: process.cpuUsage()). Go's transport is told not to ask for gzip, so
 * both clients receive the same bytes (BENCH_REF_GZIP=1 restores client-go's
 * default, Accept-Encoding: gzip).
 *
 * Usage: node bench/reference.mjs      (npm run bench:reference builds dist/ first)
 *
 * Environment knobs (defaults in brackets):
 *   BENCH_REF_SECONDS [10]       measured seconds per client run
 *   BENCH_REF_WARMUP_SECONDS [2] unmeasured warm-up in the same process, before it
 *   BENCH_REF_CONCURRENCY [16]   requests in flight (HTTP/1.1: also the connections)
 *   BENCH_REF_OBJECTS [500]      custom objects created (and listed)
 *   BENCH_REF_OPS [get,list-quorum,list-cache,discovery]
 *   BENCH_REF_PROTOCOLS [http1,http2]
 *   BENCH_REF_GO_MODES [raw,decoded]
 *   BENCH_REF_ROUNDS [1]         repeat every run; the table shows per-column medians (and the
 *                                req/s and CPU/req ranges of every client)
 *   BENCH_REF_READ [body]        asa-bench read mode: body (whole body kept, as DoRaw) or count
 *   BENCH_REF_GZIP [0]           1: client-go asks for gzip (its default)
 *   BENCH_SERVER_VERSION         kube-apiserver version (default: DEFAULT_SERVER_VERSION)
 *   BENCH_CPU_PROF=<dir>         V8 CPU profile of each asa-bench run's measured window
 *                                (node:inspector in the worker; top functions printed), and a
 *                                pprof profile of each Go run's measured window
 *                                (go tool pprof -top .asa/bin/bench-reference/asa-bench-reference <file>).
 *                                Profiling adds CPU: the table of such a run is for reading
 *                                profiles, not for the targets.
 *   BENCH_RAW_DIR [tmp]          where each asa-bench worker's raw JSON result goes
 */
// First: one clear line instead of a stack trace on an older Node.
import '../bin/check-node.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, readlink, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  fmtFix,
  fmtInt,
  installSignalHandlers,
  onCleanup,
  pass,
  procCpuSeconds,
  progress,
  runMain,
  runWorker,
  stopPid,
  table,
  trackPid,
} from './lib.mjs';

installSignalHandlers();

const env = process.env;
const num = (name, def) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : def);
const list = (name, def) => (env[name] ?? def).split(',').map((s) => s.trim()).filter(Boolean);
const SECONDS = num('BENCH_REF_SECONDS', 10);
const WARMUP_SECONDS = num('BENCH_REF_WARMUP_SECONDS', 2);
const CONCURRENCY = num('BENCH_REF_CONCURRENCY', 16);
const OBJECTS = num('BENCH_REF_OBJECTS', 500);
const OPS = list('BENCH_REF_OPS', 'get,list-quorum,list-cache,discovery');
const PROTOCOLS = list('BENCH_REF_PROTOCOLS', 'http1,http2');
const GO_MODES = list('BENCH_REF_GO_MODES', 'raw,decoded');
const ROUNDS = Math.max(1, num('BENCH_REF_ROUNDS', 1));
const READ = env.BENCH_REF_READ ?? 'body';
const GZIP = env.BENCH_REF_GZIP === '1';
const CPU_PROF = env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined;
for (const op of OPS) if (!['get', 'list-quorum', 'list-cache', 'discovery'].includes(op)) throw new Error(`BENCH_REF_OPS: unknown op ${op}`);
for (const p of PROTOCOLS) if (!['http1', 'http2'].includes(p)) throw new Error(`BENCH_REF_PROTOCOLS: unknown protocol ${p}`);
for (const m of GO_MODES) if (!['raw', 'decoded'].includes(m)) throw new Error(`BENCH_REF_GO_MODES: unknown mode ${m}`);

import { createFixtures as createWidgets, GET_NAME, GROUP, NAMESPACE, PLURAL, request, startServer, VERSION } from './kube-fixtures.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const print = (text) => process.stdout.write(`${text}\n`);

// ---------------------------------------------------------------------------
// The Go reference client
// ---------------------------------------------------------------------------

async function buildReference() {
  const { asaHome } = await import('../dist/controlplane/paths.js');
  const out = path.join(asaHome(), 'bin', 'bench-reference', 'asa-bench-reference');
  await mkdir(path.dirname(out), { recursive: true });
  progress(`building the client-go reference (go build in bench/reference -> ${out})`);
  const t0 = performance.now();
  // -mod=mod: go.sum is completed from the module cache or proxy if needed.
  const r = spawnSync('go', ['build', '-trimpath', '-o', out, '.'], { cwd: path.join(here, 'reference'), stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, GOFLAGS: `${env.GOFLAGS ?? ''} -mod=mod`.trim() } });
  if (r.error) throw new Error(`go build: ${r.error.message} (Go 1.26+ must be on PATH)`);
  if (r.status !== 0) throw new Error(`go build failed (exit ${r.status})`);
  progress(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

/** Runs the Go client once; resolves with its JSON line. onMark as runWorker's. */
async function runGo(bin, args, { onMark, timeoutMs }) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const untrack = trackPid(child.pid);
  const stop = onCleanup('client-go reference', () => stopPid(child.pid, 5000));
  let out = '';
  let err = '';
  let seen = 0;
  child.stdout.on('data', (d) => {
    out += d;
    let nl;
    while ((nl = out.indexOf('\n', seen)) >= 0) {
      const line = out.slice(seen, nl);
      seen = nl + 1;
      if (line.startsWith('BENCH_MARK ')) onMark?.(line.slice('BENCH_MARK '.length), child.pid);
    }
  });
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
  clearTimeout(timer);
  untrack();
  await stop();
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`client-go reference failed (exit ${code}): ${(err || out).slice(-800)}`);
  return JSON.parse(line);
}

// ---------------------------------------------------------------------------
// /proc: established TCP connections of a process to a port
// ---------------------------------------------------------------------------

async function connectionsTo(pid, port) {
  try {
    const inodes = new Set();
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]);
    }
    const want = port.toString(16).toUpperCase().padStart(4, '0');
    let n = 0;
    for (const file of ['tcp', 'tcp6']) {
      const text = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        // f[2] rem_address (hex ip:port), f[3] state (01 = ESTABLISHED), f[9] inode
        if (f[3] === '01' && f[2].endsWith(`:${want}`) && inodes.has(f[9])) n++;
      }
    }
    return n;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// One measurement
// ---------------------------------------------------------------------------

/** Marks the measured window: server CPU (kube-apiserver + etcd) and the client's connections mid-window. */
function windowProbe(cp, port) {
  const marks = {};
  let connTimer;
  let conns;
  const serverCpu = () => (procCpuSeconds(cp.apiserverPid) ?? NaN) + (procCpuSeconds(cp.etcdPid) ?? NaN);
  return {
    onMark(name, pid) {
      marks[name] = { cpu: serverCpu(), t: performance.now() };
      if (name === 'start' && pid) {
        connTimer = setTimeout(async () => {
          conns = await connectionsTo(pid, port);
        }, (SECONDS * 1000) / 2);
      }
    },
    result() {
      clearTimeout(connTimer);
      const s = marks.start;
      const e = marks.end;
      return { serverCores: s && e ? (e.cpu - s.cpu) / ((e.t - s.t) / 1000) : NaN, connections: conns };
    },
  };
}

async function measureAsa(cp, port, op, protocol) {
  const { path: p, accept } = request(op);
  const http2 = protocol === 'http2';
  const probe = windowProbe(cp, port);
  const spec = {
    kubeconfig: cp.kubeconfig,
    context: 'asa-bench-local',
    path: p,
    accept,
    http2,
    connections: http2 ? 1 : CONCURRENCY,
    concurrency: CONCURRENCY,
    durationMs: SECONDS * 1000,
    warmupMs: WARMUP_SECONDS * 1000,
    read: READ,
    // Profiled in the worker over the measured window only (node:inspector), not the whole process.
    ...(CPU_PROF ? { cpuProfFile: path.join(CPU_PROF, `asa-bench-${op}-${protocol}-${Date.now()}.cpuprofile`) } : {}),
  };
  // The worker's start mark carries its pid (`BENCH_MARK start <pid>`).
  const r = await runWorker('kube-op', spec, {
    onMark: (m) => {
      const [name, pid] = m.split(' ');
      probe.onMark(name, pid ? Number(pid) : undefined);
    },
  });
  const w = probe.result();
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const alpn = Object.entries(r.alpn ?? {})
    .map(([k, v]) => `${k}x${v}`)
    .join(' ');
  return {
    client: 'asa-bench',
    requests: r.iterations,
    rps: r.iterations / (r.wallMs / 1000),
    cpuUsPerReq: r.cpuUs / r.iterations,
    userUsPerReq: r.cpuUserUs / r.iterations,
    sysUsPerReq: r.cpuSystemUs / r.iterations,
    clientCores: r.cpuUs / 1e6 / (r.wallMs / 1000),
    p50: r.latencyMs?.p50,
    p99: r.latencyMs?.p99,
    errors,
    errorExample: r.errorExamples ? Object.values(r.errorExamples)[0] : undefined,
    protocolSeen: alpn === 'h2x1' ? 'HTTP/2' : /^http\/1\.1x\d+$/.test(alpn) ? 'HTTP/1.1' : alpn || '?',
    bytesPerReq: r.bytes && r.ok ? r.bytes / r.ok : undefined,
    ...w,
  };
}

async function measureGo(bin, cp, port, op, protocol, mode) {
  const probe = windowProbe(cp, port);
  const args = [
    '--kubeconfig', cp.kubeconfig,
    '--context', 'asa-bench-local',
    '--op', op,
    '--mode', mode,
    '--group', GROUP,
    '--version', VERSION,
    '--resource', PLURAL,
    '--namespace', NAMESPACE,
    '--name', GET_NAME,
    '--concurrency', String(CONCURRENCY),
    '--duration', `${SECONDS}s`,
    '--warmup', `${WARMUP_SECONDS}s`,
    protocol === 'http2' ? '--http2' : '--http1',
    ...(GZIP ? ['--compression'] : []),
    ...(CPU_PROF ? ['--cpuprofile', path.join(CPU_PROF, `client-go-${mode}-${op}-${protocol}-${Date.now()}.pprof`)] : []),
  ];
  const r = await runGo(bin, args, { onMark: probe.onMark, timeoutMs: (SECONDS + WARMUP_SECONDS) * 1000 + 120_000 });
  const want = request(op);
  if (r.path !== want.path || r.accept !== want.accept) throw new Error(`client-go ${mode} ${op} sent ${r.path} (Accept ${r.accept}); asa-bench sends ${want.path} (Accept ${want.accept})`);
  return {
    client: `client-go ${mode}`,
    requests: r.requests,
    rps: r.rps,
    cpuUsPerReq: r.cpuUsPerReq,
    userUsPerReq: (r.cpuUserS * 1e6) / r.requests,
    sysUsPerReq: (r.cpuSysS * 1e6) / r.requests,
    clientCores: r.cpuS / r.durationS,
    p50: r.p50Ms,
    p99: r.p99Ms,
    errors: r.errors,
    errorExample: r.errorSample,
    protocolSeen: r.protocol,
    bytesPerReq: r.bytes && r.requests ? r.bytes / (r.requests - r.errors) : undefined,
    ...probe.result(),
  };
}

// ---------------------------------------------------------------------------

/** Rounds combined: the median of each number on its own, errors summed, protocols must agree. */
function combine(runs) {
  if (runs.length === 1) return runs[0];
  const med = (k) => {
    const v = runs.map((r) => r[k]).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return v.length === 0 ? undefined : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const out = { ...runs[0] };
  for (const k of ['rps', 'cpuUsPerReq', 'userUsPerReq', 'sysUsPerReq', 'clientCores', 'serverCores', 'p50', 'p99', 'connections', 'bytesPerReq']) out[k] = med(k);
  out.errors = runs.reduce((a, r) => a + r.errors, 0);
  out.errorExample = runs.find((r) => r.errorExample)?.errorExample;
  const protos = [...new Set(runs.map((r) => r.protocolSeen))];
  out.protocolSeen = protos.length === 1 ? protos[0] : protos.join('+');
  out.spread = { rps: [Math.min(...runs.map((r) => r.rps)), Math.max(...runs.map((r) => r.rps))], cpu: [Math.min(...runs.map((r) => r.cpuUsPerReq)), Math.max(...runs.map((r) => r.cpuUsPerReq))] };
  return out;
}

async function main() {
  progress(`node ${process.version}; ops ${OPS.join(', ')}; protocols ${PROTOCOLS.join(', ')}; concurrency ${CONCURRENCY}; ${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up per run; ${ROUNDS} round(s)`);
  const bin = await buildReference();
  const { cp, version } = await startServer();
  const port = Number(new URL(cp.server).port);
  const sizes = await createWidgets(cp, OBJECTS, OPS);
  for (const op of OPS) progress(`${op}: ${request(op).path} -> ${fmtInt(sizes[op].bytes)} bytes (${sizes[op].contentType})`);
  if (CPU_PROF) await mkdir(CPU_PROF, { recursive: true });
  const profBefore = new Set(CPU_PROF ? await readdir(CPU_PROF) : []);

  const clients = ['asa-bench', ...GO_MODES.map((m) => `client-go ${m}`)];
  const results = new Map(); // key op|protocol|client -> [result]
  let order = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const op of OPS) {
      for (const protocol of PROTOCOLS) {
        // Alternate who goes first: rotate the client list by one each time.
        const rot = order++ % clients.length;
        const seq = [...clients.slice(rot), ...clients.slice(0, rot)];
        for (const c of seq) {
          progress(`round ${round + 1}/${ROUNDS}: ${op} ${protocol === 'http2' ? 'HTTP/2' : 'HTTP/1.1'} ${c}`);
          const r = c === 'asa-bench' ? await measureAsa(cp, port, op, protocol) : await measureGo(bin, cp, port, op, protocol, c.slice('client-go '.length));
          progress(`  ${fmtInt(r.rps)} req/s, ${fmtFix(r.cpuUsPerReq, 1)} CPU µs/req, p50 ${fmtFix(r.p50, 2)} ms, p99 ${fmtFix(r.p99, 2)} ms, ${r.errors} errors, ${r.protocolSeen}, ${r.connections ?? '?'} conns, server ${fmtFix(r.serverCores)} cores`);
          const key = `${op}|${protocol}|${c}`;
          (results.get(key) ?? results.set(key, []).get(key)).push(r);
        }
      }
    }
  }

  const rows = [];
  const notes = [];
  const spreads = [];
  const verdicts = [];
  for (const op of OPS) {
    for (const protocol of PROTOCOLS) {
      const proto = protocol === 'http2' ? 'HTTP/2' : 'HTTP/1.1';
      const byClient = {};
      for (const c of clients) {
        const r = combine(results.get(`${op}|${protocol}|${c}`));
        byClient[c] = r;
        rows.push([
          op,
          proto,
          c,
          r.connections === undefined ? '?' : Math.round(r.connections),
          fmtInt(r.rps),
          fmtFix(r.cpuUsPerReq, 1),
          `${fmtFix(r.userUsPerReq, 1)}/${fmtFix(r.sysUsPerReq, 1)}`,
          fmtFix(r.clientCores),
          fmtFix(r.serverCores),
          fmtFix(r.p50, 2),
          fmtFix(r.p99, 2),
          r.errors,
        ]);
        if (r.spread) spreads.push(`${op} ${proto} ${c}: req/s ${fmtInt(r.spread.rps[0])}-${fmtInt(r.spread.rps[1])}, CPU µs/req ${fmtFix(r.spread.cpu[0], 1)}-${fmtFix(r.spread.cpu[1], 1)}`);
        if (r.protocolSeen !== proto) notes.push(`WARNING ${op} ${proto} ${c}: responses came over ${r.protocolSeen}`);
        if (r.errors > 0) notes.push(`errors ${op} ${proto} ${c}: ${r.errors}, e.g. ${String(r.errorExample ?? '').slice(0, 200)}`);
      }
      const a = byClient['asa-bench'];
      const parts = [];
      for (const m of GO_MODES) {
        const g = byClient[`client-go ${m}`];
        const tr = a.rps / g.rps;
        const cr = a.cpuUsPerReq / g.cpuUsPerReq;
        const met = tr >= 0.95 && cr <= 1;
        verdicts.push({ op, proto, mode: m, met });
        parts.push(`vs ${m}: throughput ${tr.toFixed(2)} (>= 0.95 ${pass(tr >= 0.95)}), CPU/req ${cr.toFixed(2)} (<= 1 ${pass(cr <= 1)})`);
      }
      notes.push(`${op} ${proto}: asa-bench/client-go ${parts.join('; ')}`);
    }
  }
  const strict = verdicts.filter((v) => v.mode === 'raw');
  const summaryFor = (vs) => `${vs.filter((v) => v.met).length}/${vs.length} MET${vs.some((v) => !v.met) ? ` (not met: ${vs.filter((v) => !v.met).map((v) => `${v.op} ${v.proto}`).join(', ')})` : ''}`;
  const summary = GO_MODES.map((m) => `vs client-go ${m}: ${summaryFor(verdicts.filter((v) => v.mode === m))}`).join('; ');
  notes.push(
    '',
    `targets (asa-bench throughput >= 0.95x client-go and CPU/req <= client-go, per op and protocol): ${summary}`,
    `kube-apiserver ${version} + etcd on loopback (same machine, ${(await import('node:os')).default.availableParallelism()} cores shared by server, etcd and client); load user asa-bench-local (through API Priority and Fairness) for every client; ${OBJECTS} Widgets (${GROUP}/${VERSION}) in ${NAMESPACE}.`,
    `bodies: ${OPS.map((op) => `${op} ${fmtInt(sizes[op].bytes)} B`).join(', ')}; every client reads whole bodies${READ !== 'body' ? ` (asa-bench read: ${READ})` : ''}; client-go ${GZIP ? 'asks for gzip (its default)' : 'DisableCompression=true (no gzip, same bytes as asa-bench)'}.`,
    `concurrency ${CONCURRENCY} closed-loop workers; HTTP/1.1: asa-bench ${CONCURRENCY} connections, Go's transport opens one per request in flight; HTTP/2: one connection each (conns = established sockets to the server mid-window).`,
    `${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up in the same process; ${ROUNDS > 1 ? `median of ${ROUNDS} rounds, each column on its own` : 'one round'}; client order rotated per op/protocol. CPU µs/req = (user+sys of the client process over the window) / requests; usr/sys split; client/server cores = CPU seconds per wall second (server = kube-apiserver + etcd).`,
    'client-go raw = rest.RESTClient DoRaw (whole body as bytes, nothing decoded: the same work as asa-bench); client-go decoded = dynamic client into unstructured (GET/LIST), /apis decoded as DiscoveryClient.downloadAPIs does.',
  );
  if (spreads.length > 0) notes.push('', `ranges over the ${ROUNDS} rounds (min-max):`, ...spreads.map((x) => `  ${x}`));
  if (CPU_PROF) notes.push(`PROFILED RUN (BENCH_CPU_PROF=${CPU_PROF}): the profilers add client CPU; use this table for the profiles, not the targets.`);
  print(
    table(
      `Benchmark: kube-apiserver ${version}, asa-bench engine vs k8s.io/client-go v0.37.2 reference (concurrency ${CONCURRENCY}, ${SECONDS} s each)`,
      ['op', 'protocol', 'client', 'conns', 'req/s', 'CPU µs/req', 'usr/sys µs', 'client cores', 'server cores', 'p50 ms', 'p99 ms', 'errors'],
      rows,
      notes,
    ),
  );
  if (CPU_PROF) {
    const { summarizeProfile } = await import('./cpuprofile-top.mjs');
    const files = (await readdir(CPU_PROF)).filter((f) => f.endsWith('.cpuprofile') && !profBefore.has(f)).sort();
    for (const f of files) process.stderr.write(`\n${await summarizeProfile(path.join(CPU_PROF, f), 20)}\n`);
  }
  return strict.every((v) => v.met);
}

// Exit 0: targets met (against client-go raw); 2: measured, not met; 1: the benchmark failed.
await runMain(main);
