/**
 * Helpers shared by the engine benchmarks: what they start (nginx, children)
 * and how they stop it on any exit, /proc readings, tables.
 * Plain ESM so it runs with `node` and no TypeScript loader.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Progress goes to stderr; stdout carries only the tables. */
export function progress(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---------------------------------------------------------------------------
// Cleanup: everything started registers a stop function; they run (newest
// first) on normal end, on error, on SIGINT/SIGTERM, and a last synchronous
// kill of known pids runs on process exit.
// ---------------------------------------------------------------------------

const cleanups = [];
const pidsToKill = new Set();

export function onCleanup(name, fn) {
  const entry = { name, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
    await fn();
  };
}

export function trackPid(pid) {
  if (pid) pidsToKill.add(pid);
  return () => pidsToKill.delete(pid);
}

export async function runCleanups() {
  while (cleanups.length > 0) {
    const { name, fn } = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      progress(`cleanup ${name} failed: ${err.message}`);
    }
  }
}

let signalled = false;
export function installSignalHandlers() {
  const handler = (signal) => {
    if (signalled) {
      killTrackedSync();
      process.exit(130);
    }
    signalled = true;
    progress(`${signal}: stopping what the benchmark started`);
    runCleanups().finally(() => {
      killTrackedSync();
      process.exit(130);
    });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', killTrackedSync);
}

function killTrackedSync() {
  for (const pid of pidsToKill) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  pidsToKill.clear();
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopPid(pid, graceMs = 5000) {
  if (!pid || !isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isAlive(pid)) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a benchmark's main() (resolving true when its targets are met), stops
 * what it started, and exits: 0 targets met, 2 measured and not met, 1 failed.
 */
export async function runMain(main) {
  let code = 1;
  try {
    code = (await main()) ? 0 : 2;
  } catch (err) {
    progress(`benchmark failed: ${err.stack ?? err}`);
  } finally {
    await runCleanups();
  }
  await sleep(10);
  process.exit(code);
}

// ---------------------------------------------------------------------------
// Open files: 10,000 watches need 10,000+ sockets in this process and in the
// API server. Go raises its own soft limit to the hard one; Node does not, so
// the benchmark re-executes itself under a raised limit (children inherit it).
// ---------------------------------------------------------------------------

export function fdLimits() {
  const r = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = r.stdout.trim().split('\n');
  const num = (s) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: num(soft), hard: num(hard) };
}

/**
 * If the open-files limit can be raised, runs a copy of this script under the
 * raised limit and resolves with its exit code (the caller exits with it);
 * otherwise resolves undefined and the caller goes on as it is.
 */
export async function reexecWithMoreFiles(want = 65536) {
  if (process.env.ASA_BENCH_FD_RAISED === '1') return undefined;
  const { soft, hard } = fdLimits();
  if (soft >= want) return undefined;
  const raise = `ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null`;
  const reachable = Number(spawnSync('sh', ['-c', `${raise}; ulimit -n`], { encoding: 'utf8' }).stdout.trim());
  if (!(reachable > soft)) {
    progress(`open-files limit ${soft} (hard ${hard}) cannot be raised here; going on with it`);
    return undefined;
  }
  progress(`open-files limit ${soft} (hard ${hard}); re-running under ${reachable}`);
  const script = `${raise}; exec "$@"`;
  const child = spawn('sh', ['-c', script, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ASA_BENCH_FD_RAISED: '1' },
  });
  // Ctrl-C reaches the child itself (same process group): ignore it here. Forward SIGTERM.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 130 : 1))));
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

let clkTck;
export function clockTicks() {
  if (clkTck === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clkTck = Number(r.stdout.trim()) || 100;
  }
  return clkTck;
}

/** utime + stime of a process (all threads), seconds; undefined if gone. */
export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

export function procRssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function childPids(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // raced with exit
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Packages and nginx
// ---------------------------------------------------------------------------

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

function findBinary(cmd) {
  return which(cmd) ?? ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'].map((d) => path.join(d, cmd)).find((p) => existsSync(p));
}

/** nginx and wrk from Debian's packages, installed when absent (as root, or with sudo). */
export function ensureNginxAndWrk() {
  let nginx = findBinary('nginx');
  let wrk = findBinary('wrk');
  if (nginx && wrk) return { nginx, wrk };
  const root = process.getuid?.() === 0;
  if (!root && !which('sudo')) throw new Error('nginx and wrk are missing and this is neither root nor has sudo: apt-get install -y nginx wrk');
  const prefix = root ? [] : ['sudo', '-n'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => spawnSync(prefix[0] ?? 'apt-get', [...prefix.slice(1), ...(root ? [] : ['apt-get']), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env, encoding: 'utf8' });
  progress('installing nginx and wrk (apt-get install -y nginx wrk)');
  let r = apt(['install', '-y', '-q', 'nginx', 'wrk']);
  if (r.status !== 0) {
    progress('apt-get install failed; running apt-get update and retrying');
    apt(['update', '-q']);
    r = apt(['install', '-y', '-q', 'nginx', 'wrk']);
  }
  if (r.status !== 0) throw new Error(`apt-get install -y nginx wrk failed (exit ${r.status})`);
  nginx = findBinary('nginx');
  wrk = findBinary('wrk');
  if (!nginx || !wrk) throw new Error('nginx or wrk still not found after apt-get install');
  return { nginx, wrk };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      server.close(() => resolve(port));
    });
  });
}

export const NULL_BODY = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":200}';

/**
 * A private nginx: one worker, HTTPS with a fresh self-signed certificate,
 * keep-alive, a fixed small JSON for every path. Runs in the foreground
 * (`daemon off`) as our child so we always know what to stop.
 */
export async function startNginx(nginxBin) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asa-bench-nginx-'));
  const removeDir = onCleanup('nginx temp dir', () => rm(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const ssl = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (ssl.status !== 0) throw new Error(`openssl req failed: ${ssl.stderr}`);
  const port = await freePort();
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(path.join(dir, d));
  const root = process.getuid?.() === 0;
  const hasNogroup = existsSync('/etc/group') && /^nogroup:/m.test(readFileSync('/etc/group', 'utf8'));
  const conf = `# asa-bench null server (bench/lib.mjs)
${root ? `user nobody${hasNogroup ? ' nogroup' : ''};` : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      default_type application/json;
      return 200 '${NULL_BODY}';
    }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  await writeFile(confFile, conf);
  const child = spawn(nginxBin, ['-c', confFile, '-p', dir, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const untrack = trackPid(child.pid);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let workers = [];
  const stop = onCleanup('nginx', async () => {
    await stopPid(child.pid, 5000);
    await exited;
    untrack();
    // the worker exits with its master; make sure
    for (const pid of workers) await stopPid(pid, 1000);
  });
  // Wait until it answers (TLS on the port).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-1000)}`);
    const ok = await tryConnect(port);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('nginx did not start listening within 10 s');
    await sleep(100);
  }
  workers = childPids(child.pid);
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    dir,
    caFile: cert,
    masterPid: child.pid,
    workerPids: workers,
    async stop() {
      await stop();
      await removeDir();
    },
  };
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------
// Child benchmark processes: `node bench/engine-worker.mjs <kind>` with a JSON
// spec on argv; the result is the `BENCH_RESULT <json>` line on its stdout.
// ---------------------------------------------------------------------------

export async function runWorker(kind, spec, { cpuProfDir, onMark, nodeArgs: extraArgs = [], env } = {}) {
  const workerFile = new URL('./engine-worker.mjs', import.meta.url).pathname;
  // BENCH_NODE_ARGS: extra flags for the measured processes, e.g. --heapsnapshot-signal=SIGUSR2.
  const nodeArgs = [...extraArgs, ...(process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
  if (cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${kind}-${Date.now()}.cpuprofile`);
  const child = spawn(process.execPath, [...nodeArgs, workerFile, kind, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env } : {}) });
  const untrack = trackPid(child.pid);
  const stop = onCleanup(`worker ${kind}`, () => stopPid(child.pid, 10_000));
  let out = '';
  let seen = 0;
  child.stdout.on('data', (d) => {
    out += d.toString();
    // `BENCH_MARK <name>` lines tell the caller, as they happen, where the measured window is.
    let nl;
    while ((nl = out.indexOf('\n', seen)) >= 0) {
      const line = out.slice(seen, nl);
      seen = nl + 1;
      if (line.startsWith('BENCH_MARK ')) onMark?.(line.slice('BENCH_MARK '.length));
    }
  });
  const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
  untrack();
  await stop();
  const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (code !== 0 || !line) throw new Error(`worker ${kind} failed (exit ${code})${out ? `: ${out.slice(-500)}` : ''}`);
  const json = line.slice('BENCH_RESULT '.length);
  // Raw results (all samples) for later analysis: BENCH_RAW_DIR, default the temp dir.
  // Under the project's own (git-ignored) .asa/, not the system temp folder, where a file per run piled up.
  const rawDir = process.env.BENCH_RAW_DIR ?? new URL('../.asa/bench-raw/', import.meta.url).pathname;
  await mkdir(rawDir, { recursive: true }).catch(() => {});
  const rawFile = path.join(rawDir, `asa-bench-${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(rawFile, json).then(() => progress(`raw result: ${rawFile}`), () => {});
  return JSON.parse(json);
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/** A plain-text table: header, dashes, rows; numbers right-aligned. */
export function table(title, header, rows, notes = []) {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const numeric = header.map((_, i) => rows.every((r) => typeof r[i] === 'number' || r[i] === '' || r[i] === undefined || /^[-+]?[\d.,]+(\s?[%a-zµ/]+)?$/i.test(String(r[i] ?? ''))));
  const fmt = (r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const lines = [title, '', fmt(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)];
  if (notes.length > 0) lines.push('', ...notes);
  return `${lines.join('\n')}\n`;
}

export const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const fmtFix = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
export const mb = (bytes) => (Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(1) : '-');
/** The median of the finite values (NaN when there are none). */
export const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
export const pass = (ok) => (ok ? 'MET' : 'NOT MET');
