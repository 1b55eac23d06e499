#!/usr/bin/env node
// What `run --profile` costs the server: bench/scenarios/profile-overhead.yaml with and
// without --profile, interleaved (off, on, off, on, …), each run on its own local
// control plane. Prints, per measured phase, the median throughput, p99 and
// kube-apiserver CPU per request of each side and the change. Usage:
//   node bench/profile-overhead.mjs [repetitions=3]     (builds nothing: run `npm run build` first)
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const reps = Number(process.argv[2] ?? 3);
const scenario = path.join(root, 'bench/scenarios/profile-overhead.yaml');
const phases = ['list-cache', 'get'];
const tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-profile-overhead-'));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results = { off: [], on: [] };
try {
  for (let rep = 1; rep <= reps; rep++) {
    for (const side of ['off', 'on']) {
      const out = path.join(tmp, `${side}-${rep}`);
      process.stderr.write(`rep ${rep} ${side}\n`);
      await promisify(execFile)(process.execPath, [path.join(root, 'bin/asa-bench.js'), 'run', scenario, '--out', out, ...(side === 'on' ? ['--profile'] : [])], { cwd: root, maxBuffer: 64 * 2 ** 20 });
      results[side].push(JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')));
    }
  }
  const figures = (summary, name) => {
    const p = summary.phases.find((x) => x.phase === name);
    const op = p.ops.find((o) => o.op === p.primary);
    return { throughput: op.throughput, p99: op.latencyMs.p99, cpuMsPerOp: p.server ? (p.server.cpuCores * p.durationMs) / op.count : NaN };
  };
  const rows = [['phase', 'figure', 'without', 'with --profile', 'change']];
  for (const name of phases) {
    for (const [key, label] of [['throughput', 'ops/s'], ['p99', 'p99 ms'], ['cpuMsPerOp', 'apiserver CPU ms/op']]) {
      const off = median(results.off.map((s) => figures(s, name)[key]));
      const on = median(results.on.map((s) => figures(s, name)[key]));
      rows.push([name, label, off.toFixed(key === 'cpuMsPerOp' ? 3 : 1), on.toFixed(key === 'cpuMsPerOp' ? 3 : 1), `${on >= off ? '+' : ''}${(((on - off) / off) * 100).toFixed(1)} %`]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(`profiling overhead, median of ${reps} runs per side (${os.availableParallelism()} cores)`);
  for (const r of rows) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
} finally {
  await rm(tmp, { recursive: true, force: true });
}
