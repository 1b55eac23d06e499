/**
 * The run as one self-contained HTML page: inline CSS, inline SVG charts,
 * no scripts, fonts, images or other requests (a Content-Security-Policy says
 * so). A pure function of the result; every piece of recorded text is escaped.
 *
 * Charts: (a) p99 of each phase's primary operation vs the swept level;
 * (b) successful throughput vs offered load, for concurrency/rate sweeps;
 * (c) API-server memory vs installed CRDs and (d) 429s and client errors over
 * time, when server samples are given. A chart with nothing to show is one
 * line instead (charts.ts).
 */
import type { PhaseResult } from '../types/results.js';
import { loadFollowers } from '../types/sweep.js';
import {
  automaticNotes,
  defaultHeadline,
  describeLevel,
  groupSteps,
  inferSweep,
  apiserverSeries,
  normalizedServerSeries,
  OP_COLUMNS,
  primarySeries,
  runFacts,
  stepNotes,
  stepRows,
  stepTitle,
  type ReportInput,
  type Sweep,
} from './view.js';
import { formatTenantCell, tenantFindings, tenantRows } from './tenants.js';
import { chartSlots, nothingLine, primaryErrors, type ChartId } from './charts.js';
import { escapeXml, formatTick, lineChart, type ChartSeries } from './svg.js';
import { heapChart, profileSection } from './profiles.js';

/** Escapes text for HTML element content and quoted attribute values. */
export const escapeHtml = escapeXml;

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d1f23; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 6px; word-break: break-word; }
h2 { font-size: 18px; margin: 32px 0 12px; border-bottom: 1px solid #d9dce1; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 22px 0 8px; }
.headline { font-size: 17px; font-weight: 600; margin: 8px 0 18px; padding: 10px 14px; background: #fff; border-left: 4px solid #0072B2; border-radius: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; padding: 12px 16px; background: #fff; border-radius: 6px; border: 1px solid #e1e4e8; }
dl.facts dt { font-weight: 600; color: #555; }
dl.facts dd { margin: 0; word-break: break-word; }
ul.findings li { margin: 4px 0; }
.muted { color: #6a6f77; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure { align-self: start; margin: 0; padding: 10px; background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #6a6f77; margin-top: 6px; }
ul.no-charts { margin: 12px 0 0; padding-left: 20px; color: #6a6f77; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; }
table.ops { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
table.ops th, table.ops td { padding: 4px 10px; border-bottom: 1px solid #eceef1; white-space: nowrap; text-align: left; }
table.ops th { background: #f0f2f5; font-weight: 600; position: sticky; top: 0; }
table.ops .num { text-align: right; }
table.ops tr.primary td { font-weight: 600; }
table.ops tr.phase-start td { border-top: 1px solid #c9cdd3; }
table.ops td.alert { color: #b3261e; font-weight: 600; }
.notes { margin: 6px 0 0; padding-left: 20px; color: #8a4b00; }
details { margin-top: 28px; }
pre { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 12px; overflow-x: auto; font-size: 12px; }
footer { margin-top: 36px; font-size: 12px; color: #6a6f77; }
`;

function chartFigure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

function msTick(v: number): string {
  return v >= 1000 ? `${formatTick(v / 1000)} s` : `${formatTick(v)} ms`;
}

/** (a) p99 latency of each primary operation vs the swept level. */
function latencyChart(sweep: Sweep, phases: readonly PhaseResult[]): string {
  const series: ChartSeries[] = primarySeries(phases)
    .filter((s) => s.points.length > 0)
    .map((s) => ({ name: s.name, points: s.points.map((p) => ({ x: p.level, y: p.p99 })) }));
  const title = `p99 latency vs ${sweep.label}`;
  const svg = lineChart({
    id: 'chart-latency',
    title,
    xLabel: sweep.label,
    yLabel: 'p99 latency',
    series,
    xScale: 'auto',
    yScale: 'auto',
    yFormat: msTick,
  });
  const single = sweep.levels.length === 1 ? ' This run has a single step, so each series is one point.' : '';
  return chartFigure(svg, `p99 of each phase’s primary operation (successful attempts) at each step.${single}`);
}

/** (b) successful throughput vs offered load, for the phases a load sweep drives (charts.ts decides there are some). */
function throughputChart(sweep: Sweep, phases: readonly PhaseResult[]): string {
  const title = 'Throughput vs offered load';
  const by = sweep.by === 'rate' ? 'rate' : 'concurrency';
  const followers = loadFollowers(phases, by);
  const series: ChartSeries[] = followers.map((name) => {
    const runs = phases.filter((p) => p.phase === name).sort((a, b) => a.step - b.step);
    const primary = runs[0]?.primary ?? '';
    const points = runs.flatMap((p) => {
      const op = p.ops.find((o) => o.op === p.primary);
      if (!op || op.count === 0) return [];
      return [{ x: p.level, y: (op.throughput * op.ok) / op.count }];
    });
    return { name: primary === name ? name : `${name} (${primary})`, points };
  });
  if (sweep.by === 'rate') {
    series.push({ name: 'offered', points: sweep.levels.map((l) => ({ x: l, y: l })), color: '#999999', dashed: true });
  }
  const svg = lineChart({
    id: 'chart-throughput',
    title,
    xLabel: sweep.label,
    yLabel: 'successful ops/s',
    series,
    xFromZero: true,
    yFromZero: true,
  });
  return chartFigure(
    svg,
    sweep.by === 'rate'
      ? 'Successful operations per second of each swept phase; the dashed line is the offered rate (where a series falls below it, the server did not keep up).'
      : 'Successful operations per second of each swept phase at each worker count.',
  );
}

function mib(bytes: number): number {
  return bytes / 1024 ** 2;
}

/** (c) API server memory, from the server samples (one line per tenant with tenants=N). */
function memoryChart(report: ReportInput): string {
  const servers = apiserverSeries(report);
  const samples = servers.flatMap((s) => s.samples);
  const who = servers.length === 1 ? servers[0]!.name : 'API server';
  // Memory against CRDs when the CRD count moved; against time when it stayed put.
  const crdCounts = new Set(samples.map((s) => s.crds));
  const byCrds = crdCounts.size >= 3;
  const memory = lineChart({
    id: 'chart-memory',
    title: byCrds ? `${who} memory vs CRDs installed` : `${who} memory over time (${[...crdCounts].join(', ')} CRDs)`,
    xLabel: byCrds ? 'CRDs installed' : 'seconds since the run started',
    yLabel: 'resident memory (MiB)',
    series: servers.map((s) => ({ name: `${s.name} RSS`, points: s.samples.map((p) => ({ x: byCrds ? p.crds : p.t, y: mib(p.rssBytes) })) })),
    xFromZero: true,
    yFromZero: true,
    markers: samples.length <= 60,
  });
  const memoryCaption = byCrds
    ? `Resident memory of ${servers.length === 1 ? who : 'each API server'} at each sample, in time order, against the CRDs installed then.`
    : `Resident memory of ${servers.length === 1 ? who : 'each API server'} at each sample; the CRD count hardly changed during the run, so it is drawn against time.`;
  return chartFigure(memory, memoryCaption);
}

/** (d) 429s counted by the server and failed primary operations, accumulated over time. */
function errorsChart(report: ReportInput): string {
  const samples = normalizedServerSeries(report);
  const start = Date.parse(report.run.startedAt);
  const base429 = samples[0]!.requests429;
  const errorPoints = [{ x: 0, y: 0 }];
  let cumulative = 0;
  const ends = report.summary.phases
    .map((p) => ({ p, end: (Date.parse(p.startedAt) + p.durationMs - start) / 1000 }))
    .filter((e) => Number.isFinite(e.end))
    .sort((a, b) => a.end - b.end);
  for (const { p, end } of ends) {
    cumulative += primaryErrors(p);
    errorPoints.push({ x: Math.max(0, end), y: cumulative });
  }
  const errors = lineChart({
    id: 'chart-errors',
    title: '429s and errors over time',
    xLabel: 'seconds since the run started',
    yLabel: 'cumulative count',
    yInteger: true,
    series: [
      { name: '429 responses (server)', points: samples.map((s) => ({ x: s.t, y: Math.max(0, s.requests429 - base429) })) },
      { name: 'client errors (primary ops)', points: errorPoints },
    ],
    xFromZero: true,
    yFromZero: true,
    markers: samples.length <= 60,
  });
  return chartFigure(
    errors,
    '429 responses counted by the server since the first sample, and failed primary operations seen by asa-bench, accumulated at the end of each phase.',
  );
}

/** The charts with something to show, then one line for each of the others. */
function chartsSection(report: ReportInput, sweep: Sweep): string[] {
  const slots = chartSlots(report);
  const draw: Record<ChartId, () => string> = {
    'chart-latency': () => latencyChart(sweep, report.summary.phases),
    'chart-throughput': () => throughputChart(sweep, report.summary.phases),
    'chart-memory': () => memoryChart(report),
    'chart-errors': () => errorsChart(report),
    'chart-server': () => '', // only ever a line: it stands for both server charts when there are no samples
  };
  const drawn = slots.filter((s) => s.nothing === undefined);
  const empty = slots.filter((s) => s.nothing !== undefined);
  const parts = ['<section><h2>Charts</h2>'];
  if (drawn.length > 0) parts.push('<div class="charts">', ...drawn.map((s) => draw[s.id]()), '</div>');
  if (empty.length > 0) parts.push(`<ul class="no-charts">${empty.map((s) => `<li id="${s.id}">${escapeHtml(nothingLine(s))}</li>`).join('')}</ul>`);
  parts.push('</section>');
  return parts;
}

function opsTable(rows: ReturnType<typeof stepRows>): string {
  const head = OP_COLUMNS.map((c) => `<th${c.align === 'right' ? ' class="num"' : ''} scope="col">${escapeHtml(c.header)}</th>`).join('');
  const body = rows.map((r, i) => {
    const classes = [r.primary ? 'primary' : '', i > 0 && rows[i - 1]!.phase !== r.phase ? 'phase-start' : ''].filter(Boolean);
    const cells = OP_COLUMNS.map((c) => {
      const cls = [c.align === 'right' ? 'num' : '', c.alert?.(r) ? 'alert' : ''].filter(Boolean);
      return `<td${cls.length ? ` class="${cls.join(' ')}"` : ''} data-col="${escapeHtml(c.header)}">${escapeHtml(c.value(r))}</td>`;
    });
    return `<tr${classes.length ? ` class="${classes.join(' ')}"` : ''}>${cells.join('')}</tr>`;
  });
  return `<div class="table-wrap"><table class="ops"><thead><tr>${head}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table></div>`;
}

/** `tenants=N`: how the tenants interfered, and each tenant's p99 per phase. */
function tenantsSection(report: ReportInput): string[] {
  const tenants = report.summary.tenants ?? [];
  if (tenants.length === 0) return [];
  const head = ['step', 'phase', 'operation', ...tenants.map((t) => `tenant ${t.index} p99 ms`), 'spread'];
  const rows = tenantRows(tenants).map(
    (r) => `<tr><td class="num">${r.step}</td><td>${escapeHtml(r.phase)}</td><td>${escapeHtml(r.op)}</td>${r.p99.map((v) => `<td class="num">${escapeHtml(formatTenantCell(v))}</td>`).join('')}<td class="num">${r.spread !== undefined ? `×${r.spread.toFixed(2)}` : ''}</td></tr>`,
  );
  return [
    '<section><h2>Tenants</h2>',
    `<ul class="findings">${tenantFindings(report.summary, report.run).map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`,
    `<table><thead><tr>${head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
    '</section>',
  ];
}

export function renderHtml(report: ReportInput): string {
  const { run, summary } = report;
  const sweep = inferSweep(run, summary.phases);
  const headline = report.analysis?.headline ?? defaultHeadline(report);
  const parts: string[] = [];

  parts.push(
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(`asa-bench: ${run.scenario.name} (${run.runId})`)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<header><h1>asa-bench: ${escapeHtml(run.scenario.name)}</h1>`,
    `<p class="headline">${escapeHtml(headline)}</p></header>`,
  );

  parts.push('<section><dl class="facts">');
  for (const f of runFacts(report)) parts.push(`<dt>${escapeHtml(f.label)}</dt><dd>${escapeHtml(f.value)}</dd>`);
  parts.push('</dl></section>');

  if (report.analysis) {
    parts.push('<section><h2>Findings</h2>');
    if (report.analysis.findings.length === 0) parts.push('<p class="muted">No findings.</p>');
    else parts.push(`<ul class="findings">${report.analysis.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`);
    parts.push('</section>');
  } else {
    parts.push(
      '<section><h2>Notes</h2><p class="muted">No analysis supplied; these notes come from the data alone.</p>',
      `<ul class="findings">${automaticNotes(report).map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></section>`,
    );
  }

  parts.push(...chartsSection(report, sweep));

  if (summary.profiles) parts.push(profileHtml(summary.profiles));

  parts.push('<section><h2>Results</h2>');
  const groups = groupSteps(summary.phases);
  if (groups.length === 0) parts.push('<p class="muted">No phases were recorded.</p>');
  else parts.push('<p class="muted">Latencies in milliseconds, over successful attempts. Bold rows: the phase’s primary operation.</p>');
  for (const g of groups) {
    parts.push(`<section class="step" data-step="${g.step}"><h3>${escapeHtml(stepTitle(sweep, g))}</h3>`);
    const rows = stepRows(g);
    if (rows.length > 0) parts.push(opsTable(rows));
    const notes = stepNotes(g);
    if (notes.length > 0) parts.push(`<ul class="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
    parts.push('</section>');
  }
  parts.push('</section>');

  parts.push(...tenantsSection(report));

  parts.push(
    `<details><summary>Scenario file (${escapeHtml(run.scenario.file)})</summary><pre>${escapeHtml(run.scenario.text)}</pre></details>`,
    `<footer>${escapeHtml(`${run.tool.name} ${run.tool.version} · run ${run.runId} · levels: ${sweep.levels.map((l) => describeLevel(sweep, l)).join(', ')}`)}</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  );
  return parts.join('\n');
}

/** "Where the server spends it": heap by component vs CRDs, a table per step, heap growth. */
function profileHtml(profiles: NonNullable<ReportInput['summary']['profiles']>): string {
  const section = profileSection(profiles);
  const parts = ['<section id="profiles"><h2>Where the server spends it</h2>'];
  parts.push('<p class="muted">CPU and heap profiles of the server processes, attributed to components (cumulative: each sample counted once, for the component that caused it). Raw profiles open with <code>go tool pprof &lt;file&gt;</code>.</p>');
  if (section.notes.length > 0) parts.push(`<ul class="notes">${section.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
  const chart = heapChart(profiles);
  if (chart) parts.push(`<div class="charts">${chartFigure(chart, 'Heap in use (after a GC) at the end of each step, by the component that allocated it.')}</div>`);
  const table = (head: string[], rows: string[][]) =>
    `<div class="table-wrap"><table class="ops"><thead><tr>${head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
  for (const step of section.steps) {
    parts.push(`<h3>${escapeHtml(step.title)}</h3>`, table(['phase', 'process', 'profiled', 'components', 'file'], step.rows.map((r) => [r.what, r.process, r.amount, r.components, r.file])));
  }
  if (section.growth.length > 0) {
    parts.push('<h3>Heap growth between steps</h3>', table(['CRDs', 'process', 'heap growth', 'per CRD', 'grew most (share of growth, per CRD)'], section.growth.map((g) => [g.crds, g.process, g.growth, g.perCrd, g.components])));
  }
  parts.push('</section>');
  return parts.join('\n');
}
