/**
 * The Markdown report: structure, numbers that match the input, escaping.
 */
import { describe, expect, it } from 'vitest';
import { formatLatencyMs } from '../../src/reporters/view.js';
import { escapeMarkdown, renderMarkdown } from '../../src/reporters/markdown.js';
import { formatMs } from '../../src/reporters/table.js';
import { ERROR_EXAMPLES, ERRORS, HOSTILE_NAME, LEVELS, makeReport, P99, PHASES, SCHEDULE_LAG_MS } from './fixtures.js';

/** Splits a table line into cells on unescaped pipes. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** Tables in document order, each with its heading (the nearest `###` above). */
function tables(md: string): { heading: string; header: string[]; rows: string[][] }[] {
  const lines = md.split('\n');
  const out: { heading: string; header: string[]; rows: string[][] }[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('### ')) heading = line.slice(4);
    if (line.startsWith('|') && lines[i + 1]?.startsWith('| :---')) {
      const header = cells(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && lines[i]!.startsWith('|')) rows.push(cells(lines[i++]!));
      out.push({ heading, header, rows });
    }
  }
  return out;
}

const plain = (cell: string) => cell.replace(/^\*\*(.*)\*\*$/, '$1').replace(/^⚠ /, '');
const num = (cell: string) => Number(cell.replace(/,/g, ''));

describe('renderMarkdown', () => {
  it('opens with the title and the analysis headline, then the run facts', () => {
    const md = renderMarkdown(makeReport({ analysis: true }));
    const lines = md.split('\n');
    expect(lines[0]).toBe('# asa-bench: synthetic');
    expect(lines[2]).toBe('> **List latency grows 4× from 10 to 1000 CRDs.**');
    for (const label of ['Scenario', 'Target', 'Server version', 'Status', 'Started', 'Machine']) {
      expect(md).toMatch(new RegExp(`^- \\*\\*${label}:\\*\\* `, 'm'));
    }
    expect(md).toContain('- **Server version:** kube-apiserver v1.37.2');
    expect(md).toContain('- **Status:** complete');
    expect(md).toContain('- **Target:** https://127.0.0.1:6443 (local control plane)');
    expect(md).toMatch(/- \*\*Started:\*\* 2026-01-02T03:04:05\.000Z, ran \d+\.\d s/);
    expect(md).toContain('- **Machine:** 2 cores, 24.00 GiB, linux-x64');
  });

  it('lists the findings in order, escaped', () => {
    const md = renderMarkdown(makeReport({ analysis: true }));
    const section = md.slice(md.indexOf('## Findings'), md.indexOf('## Charts'));
    const bullets = section.split('\n').filter((l) => l.startsWith('- '));
    expect(bullets).toEqual([
      '- p99 of create.crds reaches 1.5 s at 1000 CRDs.',
      '- Three 429s at the top step &lt;b&gt;bold?&lt;/b&gt;',
    ]);
  });

  it('falls back to a generated headline and notes without an analysis', () => {
    const md = renderMarkdown(makeReport());
    const headline = md.split('\n')[2]!;
    expect(headline).toMatch(/^> \*\*synthetic against kube-apiserver v1\.37\.2 completed: 3 steps from 10 CRDs to 1000 CRDs, .*\.\*\*$/);
    expect(headline).toContain('900 measured operations, 4 errors');
    expect(headline).toContain('slowest p99 1,500 ms (create.crds, step 2 at 1000 CRDs)');
    expect(md).toContain('## Notes');
    expect(md).toContain('- Step 2 (1000 CRDs) ▸ list ▸ list.cache: 3 http-429, 1 timeout of 100.');
  });

  it('reads the sweep from the plan facts in the result', () => {
    expect(renderMarkdown(makeReport({ by: 'rate' }))).toContain('- **Sweep:** offered rate (requests/s): 50/s, 100/s, 200/s');
    expect(renderMarkdown(makeReport({ by: 'concurrency' }))).toContain('### Step 1 · 4 workers · 8 CRDs');
    expect(renderMarkdown(makeReport({ by: 'crds' }))).toContain('### Step 2 · 1000 CRDs');
  });

  it('never reads the scenario text: the plan facts win over it, and without them the data decides', () => {
    const report = makeReport({ by: 'rate' });
    report.run = { ...report.run, scenario: { ...report.run.scenario, text: 'steps: { by: concurrency, at: [1] }\n' } };
    expect(renderMarkdown(report)).toContain('- **Sweep:** offered rate (requests/s): 50/s, 100/s, 200/s');
    for (const by of ['rate', 'concurrency', 'crds'] as const) {
      const old = makeReport({ by });
      const { plan: _plan, ...run } = old.run;
      // A result written before plan facts were recorded, with a scenario text that says otherwise.
      old.run = { ...run, scenario: { ...run.scenario, text: 'steps: { by: crds }\n' } };
      const expected = { rate: '- **Sweep:** offered rate (requests/s)', concurrency: '- **Sweep:** concurrency (workers)', crds: '- **Sweep:** CRDs installed' }[by];
      expect(renderMarkdown(old)).toContain(expected);
    }
  });

  it('has one table per step with every op and the input percentiles', () => {
    const input = makeReport();
    const ts = tables(renderMarkdown(input));
    expect(ts).toHaveLength(3);
    ts.forEach((t, step) => {
      expect(t.heading).toBe(`Step ${step} · ${LEVELS.crds[step]} CRDs`);
      expect(t.header).toEqual(['phase', 'operation', 'load', 'count', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'sched lag p99 ms', 'ops/s', 'bytes']);
      const phasesAtStep = input.summary.phases.filter((p) => p.step === step);
      expect(t.rows).toHaveLength(phasesAtStep.reduce((a, p) => a + p.ops.length, 0));
      for (const c of t.rows) expect(c).toHaveLength(t.header.length);
      const col = (name: string) => t.header.indexOf(name);
      PHASES.forEach((ph, i) => {
        const row = t.rows.find((r) => r[col('phase')] === ph.name && plain(r[col('operation')]!) === ph.primary);
        expect(row, `${ph.name} at step ${step}`).toBeDefined();
        // The primary op is bold and comes first within its phase.
        expect(row![col('operation')]).toBe(`**${ph.primary}**`);
        expect(t.rows.findIndex((r) => r[col('phase')] === ph.name)).toBe(t.rows.indexOf(row!));
        const p99 = P99[step]![i]!;
        expect(row![col('p99 ms')]).toBe(formatLatencyMs(p99));
        expect(num(row![col('p99 ms')]!)).toBe(p99);
        expect(num(row![col('p50 ms')]!)).toBeCloseTo(p99 / 4, 1);
        expect(num(row![col('max ms')]!)).toBeCloseTo(p99 + 1, 0);
        expect(row![col('count')]).toBe('100');
        const op = phasesAtStep.find((p) => p.phase === ph.name)!.ops[0]!;
        expect(row![col('ops/s')]).toBe(op.throughput.toFixed(1));
        expect(row![col('bytes')]).toBe('100.0 KiB');
      });
    });
    const listRow = ts[2]!.rows.find((r) => r[0] === 'list')!;
    expect(listRow[4]).toBe(`⚠ ${Object.entries(ERRORS).map(([k, v]) => `${v} ${k}`).join(', ')}`);
    expect(ts[0]!.rows.find((r) => r[0] === 'list')![4]).toBe('0');
  });

  it('notes error examples and a saturated harness under the step table', () => {
    const md = renderMarkdown(makeReport());
    const step2 = md.slice(md.indexOf('### Step 2'), md.indexOf('<details>'));
    expect(step2).toContain(`- ⚠ list ▸ list.cache http-429: ${escapeMarkdown(ERROR_EXAMPLES['http-429'])}`);
    expect(step2).toContain(`- ⚠ list ▸ list.cache timeout: ${ERROR_EXAMPLES.timeout}`);
    expect(step2).toContain('- ⚠ the load generator was saturated during get (CPU 0.98 cores, event-loop delay p99 120.0 ms)');
    expect(md.slice(md.indexOf('### Step 0'), md.indexOf('### Step 1'))).not.toContain('⚠');
    expect(md).toContain('- The load generator was saturated in 1 phase (step 2 ▸ get)');
  });

  it("shows an open-model phase's scheduling lag p99 on its primary row only", () => {
    const closed = tables(renderMarkdown(makeReport({ by: 'crds' })))[1]!;
    expect(closed.rows.every((r) => r[closed.header.indexOf('sched lag p99 ms')] === '')).toBe(true);
    const t = tables(renderMarkdown(makeReport({ by: 'rate' })))[1]!;
    const col = t.header.indexOf('sched lag p99 ms');
    const get = t.rows.find((r) => r[0] === 'get')!;
    expect(get[col]).toBe(formatMs(SCHEDULE_LAG_MS.p99));
    const extras = t.rows.filter((r) => !r[t.header.indexOf('operation')]!.startsWith('**'));
    expect(extras.length).toBeGreaterThan(0);
    for (const r of extras) expect(r[col]).toBe('');
  });

  it('prints 1,500 ms as a grouped number in ms, not seconds', () => {
    const t = tables(renderMarkdown(makeReport()))[2]!;
    expect(t.rows[0]![t.header.indexOf('p99 ms')]).toBe('1,500');
  });

  it('escapes a hostile scenario name and error class', () => {
    const md = renderMarkdown(makeReport({ scenarioName: HOSTILE_NAME, extraErrorClass: 'x|<img src=x onerror=alert(1)>' }));
    expect(md).not.toContain('<script>');
    expect(md).not.toContain('<img');
    expect(md.split('\n')[0]).toBe('# asa-bench: &lt;script&gt;alert("x")&lt;/script&gt; &amp; co');
    // The pipe in the error class does not split the cell.
    const t = tables(md)[0]!;
    for (const row of t.rows) expect(row).toHaveLength(t.header.length);
    const getRow = t.rows.find((r) => r[0] === 'get')!;
    expect(getRow[4]).toBe('⚠ 2 x\\|&lt;img src=x onerror=alert(1)&gt;');
  });

  it('fences the scenario text with a fence longer than any backtick run in it', () => {
    const md = renderMarkdown(makeReport());
    expect(md).toContain('<details><summary>Scenario file</summary>');
    expect(md).toMatch(/\n````yaml\nversion: 1\n[\s\S]*\n````\n/);
  });

  it('escapeMarkdown neutralises markup', () => {
    expect(escapeMarkdown('a*b_c|d<e>&`f`\nnext')).toBe('a\\*b\\_c\\|d&lt;e&gt;&amp;\\`f\\` next');
  });

  it('handles a run with no phases', () => {
    const input = makeReport();
    input.summary.phases = [];
    const md = renderMarkdown(input);
    expect(md).toContain('_No phases were recorded._');
    expect(tables(md)).toHaveLength(0);
  });
});
