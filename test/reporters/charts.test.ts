/**
 * Charts with nothing to show collapse to one line saying so, in the HTML
 * report and in the Markdown report alike (issue #18): no 429s and no errors;
 * throughput vs offered load on a CRD sweep.
 */
import { describe, expect, it } from 'vitest';
import { chartSlots } from '../../src/reporters/charts.js';
import { renderHtml } from '../../src/reporters/html.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import type { ReportInput } from '../../src/reporters/view.js';
import { makeReport } from './fixtures.js';

/** The fixture with server samples, but no 429 and no error anywhere. */
function calmReport(by: 'crds' | 'rate'): ReportInput {
  const report = makeReport({ by, server: true });
  for (const s of report.serverSeries!) s.requests429 = 7; // a counter that did not move during the run
  for (const p of report.summary.phases) {
    for (const op of p.ops) {
      op.errors = {};
      op.ok = op.count;
      delete op.errorExamples;
    }
  }
  return report;
}

const svgIds = (html: string) => [...html.matchAll(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" id="([^"]+)"/g)].map((m) => m[1]);

function markdownCharts(md: string): string[] {
  return md.slice(md.indexOf('## Charts'), md.indexOf('## Results')).split('\n').filter((l) => l !== '' && l !== '## Charts');
}

describe('charts with nothing to show', () => {
  it('a calm CRD sweep: latency and memory are drawn; throughput and 429s/errors are one line each (HTML)', () => {
    const html = renderHtml(calmReport('crds'));
    expect(svgIds(html)).toEqual(['chart-latency', 'chart-memory']);
    const lines = /<ul class="no-charts">(.*?)<\/ul>/.exec(html)![1]!;
    expect(lines).toBe(
      '<li id="chart-throughput">Throughput vs offered load: nothing to chart, this run sweeps CRDs installed, not the offered load; per-phase throughput is in the tables.</li>' +
        '<li id="chart-errors">429s and errors over time: nothing to chart, no 429s and no errors during the run.</li>',
    );
  });

  it('the same in Markdown: the drawn charts named, one line for each empty one', () => {
    expect(markdownCharts(renderMarkdown(calmReport('crds')))).toEqual([
      'In report.html: p99 latency vs CRDs installed; kube-apiserver memory.',
      '- Throughput vs offered load: nothing to chart, this run sweeps CRDs installed, not the offered load; per-phase throughput is in the tables.',
      '- 429s and errors over time: nothing to chart, no 429s and no errors during the run.',
    ]);
  });

  it('a single 429 or a single client error brings the chart back', () => {
    const with429 = calmReport('crds');
    with429.serverSeries![with429.serverSeries!.length - 1]!.requests429 = 8;
    expect(svgIds(renderHtml(with429))).toContain('chart-errors');
    const withError = calmReport('crds');
    const op = withError.summary.phases[4]!.ops[0]!;
    op.errors = { timeout: 1 };
    op.ok = op.count - 1;
    expect(svgIds(renderHtml(withError))).toContain('chart-errors');
    expect(chartSlots(withError).every((s) => s.id !== 'chart-errors' || s.nothing === undefined)).toBe(true);
  });

  it('a rate sweep draws throughput vs offered load; with errors every chart is drawn and Markdown lists none as empty', () => {
    expect(svgIds(renderHtml(calmReport('rate')))).toEqual(['chart-latency', 'chart-throughput', 'chart-memory']);
    const busy = makeReport({ by: 'rate', server: true });
    expect(svgIds(renderHtml(busy))).toEqual(['chart-latency', 'chart-throughput', 'chart-memory', 'chart-errors']);
    expect(renderHtml(busy)).not.toContain('class="no-charts"');
    expect(markdownCharts(renderMarkdown(busy))).toEqual(['In report.html: p99 latency vs offered rate (requests/s); Throughput vs offered load; kube-apiserver memory; 429s and errors over time.']);
  });
});
