/**
 * Harness memory on the shipped scenarios (`npm run bench:memory`): peak RSS
 * and CPU of the `asa-bench run` process for every scenarios/*.yaml but
 * crds-5000, with the V8 heap as Node sizes it (`--heap default`) and as the
 * CLI sizes it from the plan (`--heap auto`, the default; src/cli/heap.ts),
 * interleaved, on one local control plane (`asa-bench server up`, reused by
 * every run).
 *
 * Peak RSS is the kernel's high-water mark of the run's process (VmHWM in
 * /proc/<pid>/status, read every 200 ms; `--heap auto` re-executes the same
 * pid with its flags, which starts a fresh mark). CPU is the process's
 * user+system time. The control plane's processes are not counted.
 *
 * Environment knobs [defaults]:
 *   BENCH_MEMORY_SCENARIOS [every scenarios/*.yaml but crds-5000]  comma-separated names
 *   BENCH_MEMORY_ROUNDS [1]       rounds (before/after order alternates)
 *   BENCH_MEMORY_TARGET_MB [256]  target peak RSS per scenario
 *   BENCH_MEMORY_MODES [default,auto]  which --heap modes to run
 *   BENCH_MEMORY_BASELINE [-]     another checkout of asa-bench (built): "before" is its
 *                                 `run --heap auto`, "after" this checkout's, interleaved on
 *                                 the same control plane (the baseline is given this
 *                                 checkout's .asa folder through ASA_BENCH_HOME)
 *   BENCH_MEMORY_PROBE [-]        a folder: each run gets `--import bench/memory-probe.mjs`
 *                                 (peak RSS, heap, external, arrayBuffers per phase; probe-<pid>.json there)
 * Exit: 0 targets met (after), 2 measured and not met, 1 failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockTicks, fmtFix, installSignalHandlers, onCleanup, pass, progress, runMain, stopPid, table, trackPid } from './lib.mjs';

installSignalHandlers();

const env = process.env;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const cli = path.join(root, 'bin', 'asa-bench.js');
const ROUNDS = Math.max(1, Number(env.BENCH_MEMORY_ROUNDS ?? 1));
const TARGET_MB = Number(env.BENCH_MEMORY_TARGET_MB ?? 256);
const SCENARIOS = (env.BENCH_MEMORY_SCENARIOS ?? readdirSync(path.join(root, 'scenarios')).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).filter((n) => n !== 'crds-5000').join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const MODES = (env.BENCH_MEMORY_MODES ?? 'default,auto').split(',').map((s) => s.trim()).filter(Boolean);
const BASELINE = env.BENCH_MEMORY_BASELINE ? path.resolve(env.BENCH_MEMORY_BASELINE) : undefined;
/** What is compared: `before` and `after`, each a CLI and a --heap mode (either may be left out by BENCH_MEMORY_MODES). */
const VARIANTS = BASELINE
  ? [
      { key: 'before', label: `baseline ${BASELINE}, --heap auto`, cli: path.join(BASELINE, 'bin', 'asa-bench.js'), heap: 'auto' },
      { key: 'after', label: 'this checkout, --heap auto', cli, heap: 'auto' },
    ]
  : [
      { key: 'before', label: '--heap default', cli, heap: 'default' },
      { key: 'after', label: '--heap auto', cli, heap: 'auto' },
    ].filter((v) => MODES.includes(v.heap));
const PROBE = env.BENCH_MEMORY_PROBE ? path.resolve(env.BENCH_MEMORY_PROBE) : undefined;
const print = (text) => process.stdout.write(`${text}\n`);
const mb = (kb) => kb / 1024;

function procStatus(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]), cpuS: (Number(f[11]) + Number(f[12])) / clockTicks() };
  } catch {
    return undefined;
  }
}

/** Runs the CLI to its end; peak RSS (kB), CPU (s), wall (s), the heap flags it chose, exit code. */
function runCli(args, bin = cli) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const probe = PROBE && args[0] === 'run' ? ['--import', path.join(here, 'memory-probe.mjs')] : [];
    // A baseline checkout finds this checkout's `server up` (and built binaries) through ASA_BENCH_HOME.
    const childEnv = { ...env, ...(PROBE ? { BENCH_PROBE_DIR: PROBE } : {}), ...(bin !== cli ? { ASA_BENCH_HOME: env.ASA_BENCH_HOME ?? path.join(root, '.asa') } : {}) };
    const child = spawn(process.execPath, [...probe, bin, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: childEnv });
    const untrack = trackPid(child.pid);
    const stop = onCleanup('asa-bench run', () => stopPid(child.pid, 30_000));
    let last;
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setInterval(() => {
      // An exited (zombie) process has no Vm* lines: keep the last live reading.
      const now = procStatus(child.pid);
      if (now && Number.isFinite(now.hwmKb)) last = now;
    }, 200);
    child.on('error', reject);
    child.on('exit', async (code) => {
      clearInterval(timer);
      untrack();
      await stop();
      const heap = /heap: (.+)$/m.exec(err)?.[1];
      resolve({ code, hwmKb: last?.hwmKb ?? NaN, cpuS: last?.cpuS ?? NaN, wallS: (performance.now() - t0) / 1000, heap, errTail: err.slice(-400) });
    });
  });
}

async function main() {
  progress(`node ${process.version}; scenarios ${SCENARIOS.join(', ')}; ${ROUNDS} round(s); ${VARIANTS.map((v) => `${v.key}: ${v.label}`).join(' vs ')}`);
  progress('starting the local control plane (asa-bench server up)');
  const up = await runCli(['server', 'up']);
  if (up.code !== 0) throw new Error(`asa-bench server up failed (exit ${up.code}): ${up.errTail}`);
  onCleanup('control plane', () => runCli(['server', 'down']));
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-bench-memory-'));
  onCleanup('results dir', () => rm(tmp, { recursive: true, force: true }));
  const results = new Map(); // `${scenario}|${mode}` -> [run]
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of SCENARIOS) {
      const order = n++ % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        progress(`round ${round + 1}/${ROUNDS}: ${name}, ${v.key} (${v.label})`);
        const r = await runCli(['run', path.join('scenarios', `${name}.yaml`), '--heap', v.heap, '--out', path.join(tmp, `${name}-${v.key}-${round}`)], v.cli);
        progress(`  exit ${r.code}; peak RSS ${fmtFix(mb(r.hwmKb), 1)} MB; CPU ${fmtFix(r.cpuS, 1)} s; ${fmtFix(r.wallS, 1)} s${r.heap ? `; heap: ${r.heap}` : ''}`);
        if (r.code !== 0) throw new Error(`${name} ${v.key}: exit ${r.code}: ${r.errTail}`);
        const key = `${name}|${v.key}`;
        (results.get(key) ?? results.set(key, []).get(key)).push(r);
      }
    }
  }
  const rows = [];
  let met = true;
  // A mode left out (BENCH_MEMORY_MODES) reads NaN, printed as '-'.
  const maxOf = (rs, k) => (rs ? Math.max(...rs.map((r) => r[k])) : NaN);
  const sumOf = (rs, k) => (rs ? rs.reduce((a, r) => a + r[k], 0) / rs.length : NaN);
  for (const name of SCENARIOS) {
    const before = results.get(`${name}|before`);
    const after = results.get(`${name}|after`);
    const ok = mb(maxOf(after ?? before, 'hwmKb')) <= TARGET_MB;
    met &&= ok;
    rows.push([
      name,
      fmtFix(mb(maxOf(before, 'hwmKb')), 1),
      fmtFix(mb(maxOf(after, 'hwmKb')), 1),
      fmtFix(sumOf(before, 'cpuS'), 1),
      fmtFix(sumOf(after, 'cpuS'), 1),
      before && after ? `${((sumOf(after, 'cpuS') / sumOf(before, 'cpuS') - 1) * 100).toFixed(0)}%` : '-',
      `${fmtFix(sumOf(before, 'wallS'), 0)} / ${fmtFix(sumOf(after, 'wallS'), 0)}`,
      after?.[0].heap ?? '-',
      pass(ok),
    ]);
  }
  print(
    table(
      `Harness memory: peak RSS of \`asa-bench run\` per shipped scenario, ${VARIANTS.map((v) => `${v.label} (${v.key})`).join(' vs ')}`,
      ['scenario', 'RSS before MB', 'RSS after MB', 'CPU before s', 'CPU after s', 'CPU Δ', 'wall s b/a', 'heap flags (auto)', `≤ ${TARGET_MB} MB`],
      rows,
      [
        `peak RSS = VmHWM of the run's process (max over ${ROUNDS} round(s)); CPU = its user+system seconds (mean), control plane not counted; one local control plane for every run (server up).`,
        `machine: ${os.availableParallelism()} cores, ${fmtFix(os.totalmem() / 2 ** 30, 1)} GiB; node ${process.version}.`,
      ],
    ),
  );
  return met;
}

await runMain(main);
