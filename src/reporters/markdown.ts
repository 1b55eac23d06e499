/**
 * The run as GitHub-flavoured Markdown, e.g. for `$GITHUB_STEP_SUMMARY`:
 * headline, run facts, findings, then one table per step (phase ▸ operation).
 * A pure function of the result; every piece of recorded text is escaped.
 */
import {
  automaticNotes,
  defaultHeadline,
  groupSteps,
  inferSweep,
  apiserverSeries,
  OP_COLUMNS,
  runFacts,
  stepNotes,
  stepRows,
  stepTitle,
  type Fact,
  type ReportInput,
} from './view.js';
import { formatBytes } from './table.js';
import { profileSection } from './profiles.js';
import { chartSlots, nothingLine } from './charts.js';
import { formatTenantCell, tenantFindings, tenantRows } from './tenants.js';

/**
 * Escapes text for inline Markdown (also safe inside a table cell): HTML
 * special characters become entities, Markdown punctuation is backslash-escaped
 * and line breaks become spaces.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n?|\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|~#!])/g, '\\$1');
}

/** A fenced code block whose fence is longer than any backtick run in the text. */
function codeBlock(text: string, lang: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text.replace(/\n$/, '')}\n${fence}`;
}

/** One fact per API server (each tenant's with tenants=N): peak memory and CPU, 429s. */
function serverFacts(input: ReportInput): Fact[] {
  const all = apiserverSeries(input);
  return all.map(({ name, samples }) => {
    const peakRss = samples.reduce((a, s) => (s.rssBytes > a.rssBytes ? s : a));
    const peakCpu = Math.max(...samples.map((s) => s.cpuCores));
    const r429 = Math.max(0, samples[samples.length - 1]!.requests429 - samples[0]!.requests429);
    return {
      label: all.length > 1 ? name : 'API server',
      value: `peak memory ${formatBytes(peakRss.rssBytes)} (at ${peakRss.crds} CRDs), peak CPU ${peakCpu.toFixed(2)} cores, ${r429} × 429 during the run (${samples.length} samples)`,
    };
  });
}

export function renderMarkdown(report: ReportInput): string {
  const { run, summary } = report;
  const out: string[] = [];
  out.push(`# asa-bench: ${escapeMarkdown(run.scenario.name)}`, '');
  out.push(`> **${escapeMarkdown(report.analysis?.headline ?? defaultHeadline(report))}**`, '');
  for (const f of [...runFacts(report), ...serverFacts(report)]) out.push(`- **${escapeMarkdown(f.label)}:** ${escapeMarkdown(f.value)}`);
  out.push('');
  out.push(...findingLines(report), ...chartLines(report));
  if (summary.profiles) out.push(...profileMarkdown(summary.profiles));
  out.push(...resultLines(report), ...tenantLines(report), ...scenarioLines(report));
  return out.join('\n');
}

/** The analysis's findings, or notes from the data alone when there is no analysis. */
function findingLines(report: ReportInput): string[] {
  const out: string[] = [];
  if (report.analysis) {
    out.push('## Findings', '');
    if (report.analysis.findings.length === 0) out.push('_No findings._');
    for (const f of report.analysis.findings) out.push(`- ${escapeMarkdown(f)}`);
  } else {
    out.push('## Notes', '', '_No analysis supplied; these notes come from the data alone._', '');
    for (const n of automaticNotes(report)) out.push(`- ${escapeMarkdown(n)}`);
  }
  out.push('');
  return out;
}

/** One table per step (phase ▸ operation), with the step's warnings under it. */
function resultLines(report: ReportInput): string[] {
  const sweep = inferSweep(report.run, report.summary.phases);
  const out = ['## Results', ''];
  const groups = groupSteps(report.summary.phases);
  if (groups.length === 0) out.push('_No phases were recorded._', '');
  else out.push('Latencies in milliseconds, over successful attempts. **Bold**: the phase’s primary operation.', '');
  for (const g of groups) {
    out.push(`### ${escapeMarkdown(stepTitle(sweep, g))}`, '');
    const rows = stepRows(g);
    if (rows.length > 0) out.push(...opTable(rows), '');
    const notes = stepNotes(g);
    for (const n of notes) out.push(`- ⚠ ${escapeMarkdown(n)}`);
    if (notes.length > 0) out.push('');
  }
  return out;
}

function opTable(rows: ReturnType<typeof stepRows>): string[] {
  const out = [`| ${OP_COLUMNS.map((c) => escapeMarkdown(c.header)).join(' | ')} |`, `| ${OP_COLUMNS.map((c) => (c.align === 'right' ? '---:' : ':---')).join(' | ')} |`];
  for (const r of rows) {
    const cells = OP_COLUMNS.map((c) => {
      const text = escapeMarkdown(c.value(r));
      if (c.header === 'operation' && r.primary) return `**${text}**`;
      if (c.alert?.(r)) return `⚠ ${text}`;
      return text;
    });
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out;
}

/** `tenants=N`: how the tenants interfered, and each tenant's p99 per phase. */
function tenantLines(report: ReportInput): string[] {
  const { run, summary } = report;
  const tenants = summary.tenants ?? [];
  if (tenants.length === 0) return [];
  const out = ['## Tenants', ''];
  for (const f of tenantFindings(summary, run)) out.push(`- ${escapeMarkdown(f)}`);
  out.push('', 'p99 of each phase\u2019s primary operation per tenant, ms.', '');
  out.push(`| step | phase | operation | ${tenants.map((t) => `tenant ${t.index}`).join(' | ')} | spread |`);
  out.push(`| ---: | :--- | :--- | ${tenants.map(() => '---:').join(' | ')} | ---: |`);
  for (const r of tenantRows(tenants)) {
    out.push(`| ${r.step} | ${escapeMarkdown(r.phase)} | ${escapeMarkdown(r.op)} | ${r.p99.map(formatTenantCell).join(' | ')} | ${r.spread !== undefined ? `×${r.spread.toFixed(2)}` : ''} |`);
  }
  out.push('');
  return out;
}

/** The scenario file as run, folded. */
function scenarioLines(report: ReportInput): string[] {
  const { file, text } = report.run.scenario;
  return ['<details><summary>Scenario file</summary>', '', codeBlock(text, /\.json$/i.test(file) ? 'json' : 'yaml'), '', '</details>', ''];
}

/** The HTML report's charts: which it draws, and one line for each with nothing to show. */
function chartLines(report: ReportInput): string[] {
  const slots = chartSlots(report);
  const drawn = slots.filter((s) => s.nothing === undefined).map((s) => s.title);
  const out = ['## Charts', ''];
  if (drawn.length > 0) out.push(`In report.html: ${drawn.map(escapeMarkdown).join('; ')}.`, '');
  for (const s of slots) if (s.nothing !== undefined) out.push(`- ${escapeMarkdown(nothingLine(s))}`);
  if (out[out.length - 1] !== '') out.push('');
  return out;
}

/** "Where the server spends it": one table per step, then heap growth between steps. */
function profileMarkdown(profiles: NonNullable<ReportInput['summary']['profiles']>): string[] {
  const section = profileSection(profiles);
  const out = ['## Where the server spends it', ''];
  out.push('CPU and heap profiles of the server processes, attributed to components (cumulative: each sample counted once, for the component that caused it; rules in `src/profiles/components.ts`). Raw profiles open with `go tool pprof <file>`.', '');
  for (const n of section.notes) out.push(`- ${escapeMarkdown(n)}`);
  if (section.notes.length > 0) out.push('');
  for (const step of section.steps) {
    out.push(`### ${escapeMarkdown(step.title)}`, '', '| phase | process | profiled | components | file |', '| :--- | :--- | ---: | :--- | :--- |');
    for (const r of step.rows) out.push(`| ${[r.what, r.process, r.amount, r.components].map(escapeMarkdown).join(' | ')} | \`${r.file}\` |`);
    out.push('');
  }
  if (section.growth.length > 0) {
    out.push('### Heap growth between steps', '', '| CRDs | process | heap growth | per CRD | grew most (share of growth, per CRD) |', '| :--- | :--- | ---: | ---: | :--- |');
    for (const g of section.growth) out.push(`| ${[g.crds, g.process, g.growth, g.perCrd, g.components].map(escapeMarkdown).join(' | ')} |`);
    out.push('');
  }
  return out;
}
