/**
 * The HTML report: self-contained, charts with one path per series and one
 * point per step, tables matching the input, escaping.
 */
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/reporters/html.js';
import { formatLatencyMs } from '../../src/reporters/view.js';
import { lineChart, linearAxis, logAxis } from '../../src/reporters/svg.js';
import { ERROR_EXAMPLES, HOSTILE_NAME, LEVELS, makeReport, P99, PHASES, THROUGHPUT } from './fixtures.js';

function svgById(html: string, id: string): string {
  const start = html.indexOf(`<svg xmlns="http://www.w3.org/2000/svg" id="${id}"`);
  expect(start, `svg #${id}`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</svg>', start) + 6);
}

interface DrawnSeries {
  name: string;
  dataPoints: number;
  points: { x: number; y: number }[];
}

function seriesPaths(svg: string): DrawnSeries[] {
  const paths = [...svg.matchAll(/<path [^>]*>/g)].map((m) => m[0]);
  return paths.map((p) => {
    expect(p).toContain('class="series"');
    const d = /\sd="([^"]*)"/.exec(p)![1]!;
    const points = [...d.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
    expect(d.match(/[ML]/g)!.length).toBe(points.length);
    return { name: /data-series="([^"]*)"/.exec(p)![1]!, dataPoints: Number(/data-points="(\d+)"/.exec(p)![1]), points };
  });
}

function cellsOf(html: string, col: string): string[] {
  return [...html.matchAll(new RegExp(`<td[^>]*data-col="${col}">([^<]*)</td>`, 'g'))].map((m) => m[1]!);
}

describe('renderHtml', () => {
  it('is one self-contained document: no scripts, no external resources', () => {
    const html = renderHtml(makeReport({ server: true, analysis: true }));
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html.match(/<html/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/\s(src|href)=/i);
    // Only the SVG namespace mentions a URL.
    const urls = [...html.matchAll(/https?:\/\/[^\s"<]+/g)].map((m) => m[0]);
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'https://127.0.0.1:6443']));
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
    expect(html).toContain('<style>');
  });

  it('starts with the headline, facts and findings', () => {
    const html = renderHtml(makeReport({ analysis: true }));
    expect(html).toContain('<h1>asa-bench: synthetic</h1>');
    expect(html).toContain('<p class="headline">List latency grows 4× from 10 to 1000 CRDs.</p>');
    expect(html).toContain('<dt>Server version</dt><dd>kube-apiserver v1.37.2</dd>');
    expect(html).toContain('<dt>Status</dt><dd>complete</dd>');
    expect(html).toContain('<li>Three 429s at the top step &lt;b&gt;bold?&lt;/b&gt;</li>');
  });

  it('draws p99 vs CRDs: one path per primary op, one point per step', () => {
    const input = makeReport({ server: true });
    const svg = svgById(renderHtml(input), 'chart-latency');
    expect(svg).toContain('p99 latency vs CRDs installed');
    const series = seriesPaths(svg);
    expect(series.map((s) => s.name)).toEqual(['install (create.crds)', 'list (list.cache)', 'get (get.quorum)']);
    for (const s of series) {
      expect(s.points).toHaveLength(LEVELS.crds.length);
      expect(s.dataPoints).toBe(LEVELS.crds.length);
    }
    // x: the same level sits at the same x in every series, ascending with the level.
    const xs = series[0]!.points.map((p) => p.x);
    for (const s of series) expect(s.points.map((p) => p.x)).toEqual(xs);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    // y: higher latency is drawn higher (smaller y); compare against the input order.
    const all = series.flatMap((s, i) => s.points.map((p, step) => ({ y: p.y, p99: P99[step]![i]! })));
    all.sort((a, b) => a.p99 - b.p99);
    for (let i = 1; i < all.length; i++) expect(all[i]!.y).toBeLessThan(all[i - 1]!.y);
    // Spanning 1.5 ms to 1.5 s, the axis is logarithmic; CRDs 10→1000 too.
    expect(svg).toContain('p99 latency (log scale)');
    expect(svg).toContain('CRDs installed (log scale)');
    // Tooltips carry the values.
    expect(svg).toContain('<title>install (create.crds): 1000 → 1.5 s</title>');
    expect(svg).toContain('<title>list (list.cache): 10 → 3.25 ms</title>');
  });

  it('draws throughput vs offered rate for a rate sweep, with the offered line', () => {
    const svg = svgById(renderHtml(makeReport({ by: 'rate' })), 'chart-throughput');
    const series = seriesPaths(svg);
    expect(series.map((s) => s.name)).toEqual(['list (list.cache)', 'get (get.quorum)', 'offered']);
    for (const s of series) expect(s.points).toHaveLength(3);
    expect(svg).toContain('successful ops/s');
    // Successful throughput at the top step (190/s for get) is drawn below the offered 200/s.
    const get = series[1]!.points;
    const offered = series[2]!.points;
    expect(get[2]!.y).toBeGreaterThan(offered[2]!.y);
    expect(svg).toContain(`<title>get (get.quorum): 200 → ${THROUGHPUT[2]![2]}</title>`);
  });

  it('says in one line why there is no throughput chart for a CRD sweep', () => {
    const html = renderHtml(makeReport({ by: 'crds' }));
    expect(html).not.toContain('<svg xmlns="http://www.w3.org/2000/svg" id="chart-throughput"');
    expect(html).not.toMatch(/<figure id="chart-throughput"/);
    expect(html).toContain(
      '<ul class="no-charts"><li id="chart-throughput">Throughput vs offered load: nothing to chart, this run sweeps CRDs installed, not the offered load; per-phase throughput is in the tables.</li>',
    );
  });

  it('draws server memory vs CRDs and 429s over time when samples are given', () => {
    const input = makeReport({ server: true });
    const html = renderHtml(input);
    expect(html.match(/<svg /g)).toHaveLength(3);
    const memory = seriesPaths(svgById(html, 'chart-memory'));
    expect(memory).toHaveLength(1);
    expect(memory[0]!.points).toHaveLength(input.serverSeries!.length);
    const errors = seriesPaths(svgById(html, 'chart-errors'));
    expect(errors.map((s) => s.name)).toEqual(['429 responses (server)', 'client errors (primary ops)']);
    expect(errors[0]!.points).toHaveLength(input.serverSeries!.length);
    // One point at t=0 plus one at the end of each phase.
    expect(errors[1]!.points).toHaveLength(1 + input.summary.phases.length);
    expect(html).not.toContain('no server metrics in this run');
    expect(svgById(html, 'chart-memory')).toContain('kube-apiserver memory vs CRDs installed');
    // Counts get whole-number ticks.
    const tickLabels = [...svgById(html, 'chart-errors').matchAll(/text-anchor="end">([^<]*)</g)].map((m) => m[1]);
    expect(tickLabels.every((t) => /^\d+$/.test(t!))).toBe(true);
  });

  it('draws server memory against time when the CRD count did not move', () => {
    const svg = svgById(renderHtml(makeReport({ by: 'rate', server: true })), 'chart-memory');
    expect(svg).toContain('kube-apiserver memory over time (8 CRDs)');
    expect(svg).toContain('seconds since the run started');
  });

  it('says so when there are no server metrics', () => {
    const html = renderHtml(makeReport());
    expect(html).toContain('<li id="chart-server">API server memory, 429s and errors: nothing to chart, no server metrics in this run.</li>');
    expect(html).not.toContain('id="chart-memory"');
    expect(html.match(/<svg /g)).toHaveLength(1);
  });

  it('has the same tables as the Markdown report', () => {
    const input = makeReport();
    const html = renderHtml(input);
    expect(html.match(/<table class="ops">/g)).toHaveLength(3);
    expect(html).toContain('<h3>Step 2 · 1000 CRDs</h3>');
    expect(cellsOf(html, 'p99 ms')).toHaveLength(input.summary.phases.reduce((a, p) => a + p.ops.length, 0));
    const steps = html.split('<section class="step"').slice(1);
    expect(steps).toHaveLength(3);
    steps.forEach((section, step) => {
      const ops = cellsOf(section, 'operation');
      const p99s = cellsOf(section, 'p99 ms');
      PHASES.forEach((ph, i) => expect(p99s[ops.indexOf(ph.primary)]).toBe(formatLatencyMs(P99[step]![i]!)));
    });
    expect(html).toContain('<td class="alert" data-col="errors">3 http-429, 1 timeout</td>');
    expect(html.match(/<tr class="primary[^"]*">/g)).toHaveLength(9);
    const step2 = html.slice(html.indexOf('<section class="step" data-step="2">'));
    expect(step2).toContain(`<li>list ▸ list.cache http-429: ${ERROR_EXAMPLES['http-429']}</li>`);
    expect(step2).toContain('<li>the load generator was saturated during get');
  });

  it('escapes scenario names, error classes and scenario text', () => {
    const input = makeReport({ scenarioName: HOSTILE_NAME, extraErrorClass: '<img src=x onerror=alert(1)>', server: true });
    input.run.scenario.text += `# </pre><script>alert(2)</script>\n`;
    const html = renderHtml(input);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).toContain('<h1>asa-bench: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</h1>');
    expect(html).toContain('<title>asa-bench: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co (fx123456)</title>');
    expect(html).toContain('2 &lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('# &lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
  });
});

describe('svg helpers', () => {
  it('linear axis ticks are round and cover the data', () => {
    expect(linearAxis(0, 97).ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(linearAxis(3, 3).ticks.length).toBeGreaterThan(1);
  });

  it('log axis ticks span whole decades', () => {
    const a = logAxis(1.5, 1500);
    expect(a.min).toBe(1);
    expect(a.max).toBe(10000);
    expect(a.ticks).toContain(1000);
  });

  it('lineChart draws one path per non-empty series and skips non-positive values on log axes', () => {
    const svg = lineChart({
      title: 'a <b> & c',
      xLabel: 'x',
      yLabel: 'y',
      yScale: 'log',
      series: [
        { name: 's1', points: [{ x: 1, y: 1 }, { x: 2, y: 0 }, { x: 3, y: 100 }] },
        { name: 'empty', points: [] },
      ],
    });
    const series = seriesPaths(svg);
    expect(series).toHaveLength(1);
    expect(series[0]!.points).toHaveLength(2);
    expect(svg).toContain('<title>a &lt;b&gt; &amp; c</title>');
  });

  it('says "no data" when nothing can be drawn', () => {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] });
    expect(svg).toContain('>no data</text>');
    expect(svg).not.toContain('<path');
  });
});
