/**
 * The report opens with the server: where it broke, what it reached first,
 * its memory per CRD; the caveat that the load generator itself saturated
 * comes after (issue #18), in the analysis and in both rendered reports.
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analysis/analyze.js';
import { harnessCaveat, headlineText, phaseList } from '../../src/analysis/headline.js';
import { reportInput } from '../../src/results/writer.js';
import { renderHtml } from '../../src/reporters/html.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import { readRunDir } from '../../src/results/store.js';
import type { RunSummary, ServerRecord } from '../../src/types/results.js';
import { makeReport } from '../reporters/fixtures.js';

const MiB = 2 ** 20;

/** The fixture's CRD sweep (10, 100, 1000 CRDs; get saturated at step 2; 429s in list at step 2) with server figures: 300 MiB + 1 MiB per CRD. */
function sweepWithServer(): { run: ReturnType<typeof makeReport>['run']; summary: RunSummary } {
  const { run, summary } = makeReport({ by: 'crds' });
  for (const p of summary.phases) {
    p.server = { cpuCores: 0.5, rssBytes: (300 + p.crds) * MiB, requests429: 0, apfRejected: 0, apfWaitP99Ms: 0, etcdP99Ms: 2, requestP99Ms: 1, objects: p.crds };
  }
  return { run, summary };
}

describe('the parts named after what ran', () => {
  const serverOf = (extra: Partial<ServerRecord>): ServerRecord => ({ given: 'v1.37.2', spec: 'v1.37.2', label: 'v1.37.2', kind: 'version', version: 'v1.37.2', kubeApiserver: { path: 'x', sha256: 'y' }, controllers: 'none', args: [], buildKey: 'k', ...extra });

  it('the CRD-only server is not called kube-apiserver, kine not etcd, and a tenants=3 series is the first tenant', () => {
    const { run, summary } = sweepWithServer();
    expect(analyze({ ...run, server: serverOf({ flavour: 'crd-only' }) }, summary).headline).toMatch(/ CRD-only API server memory: 1\.0 MiB per CRD /);
    expect(analyze({ ...run, server: serverOf({ tenants: 3 }) }, summary).findings).toContain('kube-apiserver (tenant 1 of 3) memory grew 990 MiB from 10 to 1000 CRDs: 1024 KiB per CRD.');
    for (const p of summary.phases) p.server = { ...p.server!, etcdP99Ms: 500 };
    const kine = analyze({ ...run, server: serverOf({ storage: 'kine' }) }, summary);
    expect(kine.findings.some((f) => /^storage \(kine\) limited .*kine request p99 500\.0 ms/.test(f))).toBe(true);
    expect(analyze(run, summary).findings.some((f) => /^storage \(etcd\) limited .*etcd request p99 500\.0 ms/.test(f))).toBe(true);
  });
});

describe('the headline', () => {
  it('leads with the knee, the first limit and memory per CRD; the harness caveat comes last', () => {
    const { run, summary } = sweepWithServer();
    const a = analyze(run, summary);
    expect(a.headline).toBe(
      "Knee at 100 CRDs (step 1, phase install): create.crds p99 25.5 ms is 2.0× step 0's 12.5 ms. " +
        'First limit the server reached: flow control (429s and queueing: API Priority and Fairness or max-in-flight) in list at step 2 (3 requests answered 429). ' +
        'kube-apiserver memory: 1.0 MiB per CRD (+990.0 MiB from 10 to 1000 CRDs). ' +
        'The load generator itself saturated in 1 phase (get at step 2); treat those numbers as client limits, not server limits.',
    );
  });

  it('puts the harness finding after the server findings', () => {
    const { run, summary } = sweepWithServer();
    const findings = analyze(run, summary).findings;
    const harness = findings.findIndex((f) => f.startsWith('The harness saturated'));
    const memory = findings.findIndex((f) => f.startsWith('kube-apiserver memory grew 990 MiB from 10 to 1000 CRDs'));
    const limit = findings.findIndex((f) => f.startsWith('flow control'));
    expect(harness).toBe(findings.length - 1);
    expect(memory).toBeGreaterThanOrEqual(0);
    expect(limit).toBeGreaterThanOrEqual(0);
    expect(Math.max(memory, limit)).toBeLessThan(harness);
  });

  it('says there was no knee, then the caveat, when nothing broke', () => {
    const { run, summary } = sweepWithServer();
    for (const p of summary.phases) for (const op of p.ops) op.latencyMs = { ...op.latencyMs, p99: 5, max: 6 };
    const headline = analyze(run, summary).headline;
    expect(headline).toMatch(/^No knee from 10 CRDs to 1000 CRDs: every phase's p99 stayed within 2× its first step/);
    expect(headline).toMatch(/kube-apiserver memory: 1\.0 MiB per CRD .*\. The load generator itself saturated in 1 phase \(get at step 2\); treat those numbers as client limits, not server limits\.$/);
  });

  it('the reference crds-500 run opens with its knee and memory, not the saturated generator', async () => {
    const saved = await readRunDir('results/reference/crds-500');
    const headline = analyze(saved.run, saved.summary).headline;
    expect(headline).toMatch(/^Knee at 250 CRDs \(step 1, phase churn\): patch\.objects p99 /);
    expect(headline).toContain('kube-apiserver memory: 2.3 MiB per CRD (+925.5 MiB from 100 to 500 CRDs).');
    expect(headline).toMatch(/\. The load generator itself saturated in 3 phases \(discovery-aggregated at steps 0 and 2, openapi-v3 at step 0\); treat those numbers as client limits, not server limits\.$/);
  });

  it('both reports show the headline in that order at the top', () => {
    const { run, summary } = sweepWithServer();
    const input = reportInput(run, summary);
    const md = renderMarkdown(input);
    expect(md.split('\n')[2]).toMatch(/^> \*\*Knee at 100 CRDs .*The load generator itself saturated in 1 phase/);
    const html = renderHtml(input);
    const top = /<p class="headline">([^<]*)<\/p>/.exec(html)![1]!;
    expect(top.indexOf('Knee at 100 CRDs')).toBe(0);
    expect(top.indexOf('kube-apiserver memory')).toBeLessThan(top.indexOf('The load generator itself saturated'));
  });

  it('names the saturated phases compactly, and says nothing when there are none', () => {
    expect(phaseList([{ phase: 'a', step: 0 }, { phase: 'b', step: 0 }, { phase: 'a', step: 2 }, { phase: 'a', step: 3 }])).toBe('a at steps 0, 2 and 3, b at step 0');
    expect(harnessCaveat([])).toBe('');
    expect(headlineText({ swept: false, kneeFactor: 2, harness: [] })).toBe('Single step: the server reached no limit (no sweep, so no knee to find).');
  });
});
