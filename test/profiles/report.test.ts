/**
 * What the reports, the analysis and compare make of profile results built
 * from the real fixtures (test/fixtures/pprof/), attached to the reporters'
 * synthetic run (knee at step 1, whose install p99 is 2.04× step 0's).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analysis/analyze.js';
import { compareRuns } from '../../src/compare/compare.js';
import { describeDelta, notableDeltas } from '../../src/compare/profiles.js';
import { renderCompareMarkdown } from '../../src/compare/render.js';
import { attribute, heapGrowth } from '../../src/profiles/attribute.js';
import { decodeProfile } from '../../src/profiles/decode.js';
import { renderHtml } from '../../src/reporters/html.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import type { CpuProfileResult, ProfilesResult, RunSummary } from '../../src/types/results.js';
import { ROOT } from '../helpers/cli.js';
import { makeReport } from '../reporters/fixtures.js';

const fixture = (name: string) => readFileSync(path.join(ROOT, 'test/fixtures/pprof', name));
const heapOf = (file: string) => attribute(decodeProfile(fixture(file)), 'kube-apiserver', 'inuse_space');
const cpuOf = (file: string, step: number, phase: string): CpuProfileResult => {
  const a = attribute(decodeProfile(fixture(file)), 'kube-apiserver', 'cpu', 1e-9);
  return { source: 'kube-apiserver', step, level: [10, 100, 1000][step]!, crds: [10, 100, 1000][step]!, phase, phases: [phase], file: `profiles/step-${step}/${phase}.cpu.pb.gz`, profiledSeconds: 4, cpuSeconds: a.total, components: a.components };
};

function profiles(listFile: string): ProfilesResult {
  const h1 = heapOf('kube-apiserver.heap.20crds.pb.gz');
  const h2 = heapOf('kube-apiserver.heap.60crds.pb.gz');
  return {
    sources: ['kube-apiserver', 'etcd'],
    unavailable: [{ source: 'etcd', reason: 'etcd is profiled only on the local control plane' }],
    cpu: [cpuOf('kube-apiserver.install.cpu.pb.gz', 2, 'install'), cpuOf(listFile, 2, 'list')],
    heap: [
      { source: 'kube-apiserver', step: 0, level: 10, crds: 10, file: 'profiles/step-0/heap.pb.gz', inuseBytes: h1.total, components: h1.components },
      { source: 'kube-apiserver', step: 1, level: 100, crds: 100, file: 'profiles/step-1/heap.pb.gz', inuseBytes: h2.total, components: h2.components },
    ],
    heapGrowth: [heapGrowth('kube-apiserver', { step: 0, crds: 10, attribution: h1 }, { step: 1, crds: 100, attribution: h2 })],
  };
}

function report(listFile = 'kube-apiserver.list-cache.cpu.pb.gz') {
  const base = makeReport();
  const summary: RunSummary = { ...base.summary, profiles: profiles(listFile) };
  return { ...base, summary, analysis: analyze(base.run, summary) };
}

describe('findings from profiles', () => {
  const r = report();
  it('name the component the heap grows in at the knee, with its share, per-CRD figure and top functions', () => {
    const growth = r.summary.profiles!.heapGrowth[0]!;
    const top = growth.components[0]!;
    const finding = r.analysis.findings.find((f) => f.startsWith('From 10 to 100 CRDs (the knee)'));
    expect(finding).toBeDefined();
    expect(finding).toContain(`${Math.round(top.shareOfGrowth * 100)} % of the growth is OpenAPI`);
    expect(finding).toContain(top.top[0]!.function);
  });
  it('name where kube-apiserver spent its CPU in the slowest phase of the last step', () => {
    const install = r.summary.profiles!.cpu[0]!;
    const finding = r.analysis.findings.find((f) => f.startsWith('Slowest phase at 1000 CRDs: install (create.crds p99 1500 ms)'));
    expect(finding).toContain(`kube-apiserver spent ${install.cpuSeconds.toFixed(2)} CPU s`);
    expect(finding).toContain(`${install.components[0]!.name.replace(/ \(.*\)$/, '')} ${Math.round(install.components[0]!.share * 100)} %`);
  });
  it('do not repeat an unavailable source: that is one line of the profile section', () => {
    expect(r.analysis.findings.join('\n')).not.toContain('etcd is profiled only');
  });
});

describe('the "Where the server spends it" section', () => {
  it('Markdown: one line per unavailable source, a table per step, the heap growth table', () => {
    const md = renderMarkdown(report());
    const section = md.slice(md.indexOf('## Where the server spends it'), md.indexOf('## Results'));
    expect(section.match(/etcd is profiled only/g)).toHaveLength(1);
    expect(section).toContain('### Step 0 (10 CRDs)');
    expect(section).toContain('### Step 2 (1000 CRDs)');
    expect(section).toMatch(/\| install \| kube-apiserver \| 2\.00 CPU s in 4 s \| .*OpenAPI/);
    expect(section).toMatch(/\| 10 → 100 \| kube-apiserver \| \+\d+\.\d MiB \| \d+\.\d KiB \| OpenAPI \d+ %/);
  });
  it('HTML: a stacked chart of heap by component against CRDs', () => {
    const html = renderHtml(report());
    const svg = html.slice(html.indexOf('<svg xmlns="http://www.w3.org/2000/svg" id="chart-heap-kube-apiserver"'));
    expect(svg.length).toBeGreaterThan(0);
    const bands = [...svg.slice(0, svg.indexOf('</svg>')).matchAll(/<path class="band" data-series="([^"]+)"/g)].map((m) => m[1]);
    expect(bands[0]).toBe('OpenAPI');
    expect(bands.at(-1)).toBe('other &amp; the rest');
    expect(bands.length).toBe(8);
  });
  it('is absent from a run without profiles', () => {
    expect(renderMarkdown(makeReport())).not.toContain('Where the server spends it');
  });
});

describe('compare with profiles on both sides', () => {
  it('lists component deltas per phase (CPU per request) and per step (heap)', () => {
    const a = report('kube-apiserver.list-cache.step0.cpu.pb.gz').summary;
    const b = report('kube-apiserver.list-cache.cpu.pb.gz').summary;
    const c = compareRuns([a], [b]);
    const rows = c.profiles!.rows;
    const metrics = rows.find((r) => r.kind === 'cpu' && r.phase === 'list' && r.component === 'metrics')!;
    const count = a.phases.find((p) => p.step === 2 && p.phase === 'list')!.ops[0]!.count;
    expect(metrics.unit).toBe('cpu-ms/op');
    expect(metrics.candidate).toBeCloseTo((b.profiles!.cpu[1]!.components.find((x) => x.component === 'metrics')!.value * 1000) / count, 6);
    // Identical heaps on both sides: no heap row changes.
    expect(rows.filter((r) => r.kind === 'heap').every((r) => r.delta === undefined || r.delta === 0)).toBe(true);
    const notable = notableDeltas(c.profiles!);
    expect(notable.length).toBeGreaterThan(0);
    expect(notable.every((r) => r.kind === 'cpu')).toBe(true);
    expect(describeDelta(notable[0]!)).toMatch(/^list@step 2 kube-apiserver: .+ [+-]?\d+ % CPU \(\d+\.\d{3} ms\/op → \d+\.\d{3} ms\/op; \d+ % → \d+ % of the profile\)$/);
    expect(renderCompareMarkdown(c, { baseline: 'a', candidate: 'b' })).toContain('Component deltas from profiles');
  });
  it('says nothing about profiles when one side has none', () => {
    expect(compareRuns([makeReport().summary], [report().summary]).profiles).toBeUndefined();
  });
});
