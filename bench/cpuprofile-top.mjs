/**
 * Top functions of a V8 .cpuprofile (from `node --cpu-prof`), by self time,
 * and self time grouped by where the code lives (package or node internal).
 *
 *   node bench/cpuprofile-top.mjs <file.cpuprofile> [top=25]
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

function where(url) {
  if (!url) return '(native/VM)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(deps\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `asa-bench ${dist[1]}`;
  const bench = /\/bench\/(.+)$/.exec(url);
  if (bench) return `bench ${bench[1]}`;
  return url;
}

export async function summarizeProfile(file, top = 25) {
  const profile = JSON.parse(await readFile(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  // samples[i] ran for timeDeltas[i+1] (the delta to the next sample); use timeDeltas[i] as V8's tools do.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const fn = new Map();
  const mod = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    const file = cf.url ? cf.url.replace(/^file:\/\/.*?\/(node_modules|dist|bench)\//, '$1/') : '';
    const key = `${name}  ${file}${file ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const w = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : where(cf.url);
    mod.set(w, (mod.get(w) ?? 0) + us);
  }
  const busy = total - (fn.get('(idle)  ') ?? 0);
  const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`CPU profile ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle`, '', `top ${top} functions by self time:`];
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  lines.push('', 'self time by where the code lives:');
  for (const [k, us] of [...mod].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${await summarizeProfile(file, Number(top ?? 25))}\n`);
}
