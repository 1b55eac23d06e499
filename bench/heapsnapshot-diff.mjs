/**
 * Which objects grew between two V8 heap snapshots (e.g. from a worker run
 * with `--heapsnapshot-signal=SIGUSR2`): count and self size by constructor.
 *
 *   node bench/heapsnapshot-diff.mjs <early.heapsnapshot> <late.heapsnapshot> [top=25]
 */
import { readFile } from 'node:fs/promises';

async function summarize(file) {
  const snap = JSON.parse(await readFile(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const byName = new Map();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + iType]];
    let name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
    if (type === 'closure') name = `closure ${name}`;
    const size = snap.nodes[i + iSize];
    total += size;
    const e = byName.get(name) ?? { count: 0, size: 0 };
    e.count++;
    e.size += size;
    byName.set(name, e);
  }
  return { byName, total };
}

const [a, b, top] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: node bench/heapsnapshot-diff.mjs <early.heapsnapshot> <late.heapsnapshot> [top]\n');
  process.exit(2);
}
const [early, late] = [await summarize(a), await summarize(b)];
const rows = [];
for (const [name, e] of late.byName) {
  const was = early.byName.get(name) ?? { count: 0, size: 0 };
  rows.push({ name, dCount: e.count - was.count, dSize: e.size - was.size, count: e.count, size: e.size });
}
rows.sort((x, y) => y.dSize - x.dSize);
const kb = (n) => (n / 1024).toFixed(1);
const lines = [`heap: ${kb(early.total)} KB -> ${kb(late.total)} KB (${kb(late.total - early.total)} KB)`, '', 'growth by constructor (self size):', '  Δ KB        Δ count     now count   name'];
for (const r of rows.slice(0, Number(top ?? 25))) lines.push(`  ${kb(r.dSize).padStart(9)}  ${String(r.dCount).padStart(10)}  ${String(r.count).padStart(10)}   ${r.name.slice(0, 80)}`);
process.stdout.write(`${lines.join('\n')}\n`);
