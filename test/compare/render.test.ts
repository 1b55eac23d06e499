import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../src/compare/compare.js';
import { detectionLines, formatDetectable, renderCompareCsv, renderCompareJson, renderCompareMarkdown, renderCompareTable } from '../../src/compare/render.js';
import { makeRun, repsOf, repsOfRows } from './fixtures.js';

/** RFC 4180 enough for these records: quoted fields may hold commas and doubled quotes. */
function parseCsv(text: string): Record<string, string>[] {
  const lines = text.trim().split('\n').map((line) => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => m[1]!.replace(/^"|"$/g, '').replace(/""/g, '"')));
  const [header, ...rest] = lines;
  return rest.map((cells) => Object.fromEntries(header!.map((h, i) => [h, cells[i] ?? ''])));
}

const labels = { baseline: 'v1.37.2 ×3 (baseline)', candidate: 'v1.37.2|x ×3 (candidate)' };
const rows = [
  { spec: { phase: 'list-cache', op: 'list.cache' }, base: [5, 5.2, 4.9], cand: [10, 10.4, 9.9] },
  { spec: { phase: 'get-quorum', op: 'get.quorum' }, base: [3, 3.2, 2.9], cand: [3.1, 2.9, 3] },
  { spec: { phase: 'install', op: 'create.crds', ok: 10 }, base: [50, 52, 49], cand: [80, 81, 79] },
];
const comparison = compareRuns(
  repsOfRows(rows.map((r) => ({ spec: r.spec, p99s: r.base }))),
  repsOfRows(rows.map((r) => ({ spec: r.spec, p99s: r.cand }))),
);

describe('compare renderers', () => {
  it('table: headline with judged and not-comparable counts, one line per row with its verdict and reasons', () => {
    const text = renderCompareTable(comparison, labels);
    expect(text.split('\n')[0]).toBe('REGRESSION: 1 of 2 judged rows of v1.37.2|x ×3 (candidate) are worse than v1.37.2 ×3 (baseline) over 3 vs 3 repetitions. 1 rows not comparable.');
    expect(text).toMatch(/list-cache\s+list\.cache\s+p99\s+5\.00\s+10\.0\s+\+100\.0%.*≥ 10%\s+REGRESSION \(p99 \+100%\)/);
    expect(text).toMatch(/get-quorum\s+get\.quorum\s+p99.*same/);
    expect(text).toMatch(/install\s+create\.crds\s+.*not comparable \(too few samples: 10 successful in a repetition; a p50 needs ≥ 20\)/);
  });

  it('markdown: a GitHub table with escaped cells, the method, and what the comparison can detect', () => {
    const md = renderCompareMarkdown(comparison, labels);
    expect(md).toMatch(/^## asa-bench compare: v1\.37\.2\\\|x ×3 \(candidate\) vs v1\.37\.2 ×3 \(baseline\)$/m);
    expect(md).toContain('**REGRESSION: 1 of 2 judged rows');
    expect(md).toContain('Benjamini-Hochberg false-discovery rate 0.05');
    expect(md).toMatch(/^\| step \| level \| phase \| operation \| stat \| base ms \| cand ms \| Δ \|/m);
    expect(md).toMatch(/^\| 0 \| 0 \| list-cache \| list\.cache \| p99 \|/m);
    expect(md).toMatch(/^- step 0 list-cache: detects p99 changes ≥ \d+% for list\.cache$/m);
    expect(md.split('\n').filter((l) => l.startsWith('| 0 |'))).toHaveLength(3);
  });

  it('csv: one record per row with the compared percentile, p and q values and the verdict', () => {
    const records = parseCsv(renderCompareCsv(comparison));
    expect(records).toHaveLength(3);
    const list = records.find((r) => r.op === 'list.cache')!;
    expect(list.statistic).toBe('p99');
    expect(list.verdict).toBe('regression');
    expect(Number(list.q_value)).toBeLessThan(0.05);
    expect(Number(list.delta)).toBeCloseTo(1, 6);
    expect(records.find((r) => r.op === 'create.crds')!.verdict).toBe('not-comparable');
  });

  it('json: the whole comparison, parseable, with the labels and the detection sentences', () => {
    const json = JSON.parse(renderCompareJson(comparison, labels)) as Record<string, unknown>;
    expect(json.labels).toEqual(labels);
    expect(json.verdict).toBe('regression');
    expect(json.tests).toBe(4);
    expect(json.detection).toEqual(detectionLines(comparison));
    expect((json.rows as unknown[]).length).toBe(3);
  });

  it('one-vs-one: the headline warns that no test ran; inconclusive says so', () => {
    const single = compareRuns([makeRun([{ phase: 'l', op: 'list.cache', p99: 5 }])], [makeRun([{ phase: 'l', op: 'list.cache', p99: 5.1 }])]);
    expect(renderCompareTable(single, labels)).toMatch(/^No regression: .* \(1 rows judged, 0 better\)\. Caution: fewer than 3 repetitions per side and no noise file/);
    expect(renderCompareMarkdown(single, labels)).toContain('no significance test (thresholds alone)');
    const none = compareRuns([makeRun([{ phase: 'l', op: 'list.cache', p99: 5, ok: 3 }])], [makeRun([{ phase: 'l', op: 'list.cache', p99: 5, ok: 3 }])]);
    expect(renderCompareTable(none, labels)).toMatch(/^INCONCLUSIVE: no row of .* could be judged\. 1 rows not comparable\./);
  });
});

describe('formatDetectable', () => {
  it('gives the percentage up to tenfold and says "> 10×" beyond, where the figure only means noise-bound', () => {
    expect(formatDetectable(undefined)).toBe('');
    expect(formatDetectable(0.123)).toBe('≥ 12%');
    expect(formatDetectable(9)).toBe('≥ 900%');
    expect(formatDetectable(386728.98)).toBe('> 10×');
  });
});

describe('ops/s of a side whose repetitions were all set aside', () => {
  it('is blank in the table and the CSV, not 0.0', () => {
    const list = { phase: 'list-cache', op: 'list.cache' } as const;
    const c = compareRuns(repsOf(list, [5, 5, 5], () => ({ saturated: true })), repsOf(list, [5, 5, 5]));
    const line = renderCompareTable(c, labels).split('\n').find((l) => /list\.cache/.test(l))!;
    expect(line).toMatch(/list\.cache\s+100\.0\s+not comparable/);
    expect(line).not.toMatch(/\b0\.0\b/);
    expect(parseCsv(renderCompareCsv(c))[0]!.baseline_ops_per_s).toBe('');
  });
});
