/**
 * Rendering a comparison: terminal table, GitHub Markdown (for a CI step
 * summary), CSV and JSON. Pure functions of the Comparison value.
 */
import { stringify } from 'csv-stringify/sync';
import { formatMs, renderColumns } from '../reporters/table.js';
import type { Comparison, ComparisonRow } from './compare.js';
import { describeDelta, notableDeltas } from './profiles.js';

const pct = (v: number | undefined) => (v === undefined ? '' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);
const ms = (v: number | undefined) => (v === undefined ? '' : formatMs(v));
const verdictMark: Record<ComparisonRow['verdict'], string> = {
  regression: 'REGRESSION',
  improvement: 'better',
  same: 'same',
  'only-baseline': 'only in baseline',
  'only-candidate': 'only in candidate',
};

const columns = [
  { header: 'step', value: (r: ComparisonRow) => String(r.step) },
  { header: 'level', value: (r: ComparisonRow) => String(r.level) },
  { header: 'phase', align: 'left' as const, value: (r: ComparisonRow) => r.phase },
  { header: 'operation', align: 'left' as const, value: (r: ComparisonRow) => r.op },
  { header: 'p99 base', value: (r: ComparisonRow) => ms(r.baseline?.p99) },
  { header: 'p99 cand', value: (r: ComparisonRow) => ms(r.candidate?.p99) },
  { header: 'Δp99', value: (r: ComparisonRow) => pct(r.deltaP99) },
  { header: 'ops/s base', value: (r: ComparisonRow) => r.baseline?.throughput.toFixed(1) ?? '' },
  { header: 'ops/s cand', value: (r: ComparisonRow) => r.candidate?.throughput.toFixed(1) ?? '' },
  { header: 'Δops/s', value: (r: ComparisonRow) => pct(r.deltaThroughput) },
  { header: 'p', value: (r: ComparisonRow) => (r.pValue === undefined ? '' : r.pValue.toFixed(3)) },
  { header: 'verdict', align: 'left' as const, value: (r: ComparisonRow) => `${verdictMark[r.verdict]}${r.reasons.length ? ` (${r.reasons.join('; ')})` : ''}` },
];

export interface CompareLabels {
  baseline: string;
  candidate: string;
}

function headline(c: Comparison, labels: CompareLabels): string {
  const reps = c.repetitions.baseline > 1 || c.repetitions.candidate > 1 ? ` over ${c.repetitions.baseline} vs ${c.repetitions.candidate} repetitions` : '';
  const verdict =
    c.verdict === 'regression'
      ? `REGRESSION: ${c.regressions} of ${c.rows.length} rows of ${labels.candidate} are worse than ${labels.baseline}${reps}.`
      : `No regression: ${labels.candidate} vs ${labels.baseline}${reps} (${c.improvements} rows better).`;
  const caution =
    Math.min(c.repetitions.baseline, c.repetitions.candidate) < 3
      ? ' Caution: fewer than 3 repetitions per side, so no significance test; on a busy machine single runs differ by tens of percent (use `ab --repeat 3` or folders of runs).'
      : '';
  return verdict + caution;
}

/** Lines on the component deltas, when both sides have profiles. */
function profileLines(c: Comparison, labels: CompareLabels): string[] {
  if (!c.profiles) return [];
  const notable = notableDeltas(c.profiles);
  const title = `Component deltas from profiles (${labels.candidate} vs ${labels.baseline}; components with ≥ 5 % of a profile that moved ≥ 10 %; informative, not part of the verdict):`;
  return [title, ...(notable.length > 0 ? notable.map((r) => `- ${describeDelta(r)}`) : ['- no component moved that much'])];
}

export function renderCompareTable(c: Comparison, labels: CompareLabels): string {
  const profiles = profileLines(c, labels);
  return `${headline(c, labels)}\n\n${renderColumns(c.rows, columns)}${profiles.length > 0 ? `\n\n${profiles.join('\n')}` : ''}`;
}

export function renderCompareMarkdown(c: Comparison, labels: CompareLabels): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `## asa-bench compare: ${esc(labels.candidate)} vs ${esc(labels.baseline)}`,
    '',
    `**${headline(c, labels)}**`,
    '',
    `Thresholds: p99 +${c.thresholds.p99 * 100}% (and > ${c.thresholds.p99FloorMs} ms), throughput −${c.thresholds.throughput * 100}%, any new error class; significance α=${c.thresholds.alpha} with ≥3 repetitions.`,
    '',
    `| ${columns.map((col) => col.header).join(' | ')} |`,
    `| ${columns.map((col) => (col.align === 'left' ? ':--' : '--:')).join(' | ')} |`,
    ...c.rows.map((r) => `| ${columns.map((col) => esc(col.value(r))).join(' | ')} |`),
  ];
  const profiles = profileLines(c, labels);
  if (profiles.length > 0) lines.push('', `### ${profiles[0]}`, '', ...profiles.slice(1).map(esc));
  return lines.join('\n');
}

export function renderCompareCsv(c: Comparison): string {
  return stringify(
    c.rows.map((r) => ({
      step: r.step,
      level: r.level,
      phase: r.phase,
      op: r.op,
      baseline_p50_ms: r.baseline?.p50 ?? '',
      baseline_p99_ms: r.baseline?.p99 ?? '',
      candidate_p50_ms: r.candidate?.p50 ?? '',
      candidate_p99_ms: r.candidate?.p99 ?? '',
      delta_p99: r.deltaP99 ?? '',
      baseline_ops_per_s: r.baseline?.throughput ?? '',
      candidate_ops_per_s: r.candidate?.throughput ?? '',
      delta_ops_per_s: r.deltaThroughput ?? '',
      p_value: r.pValue ?? '',
      verdict: r.verdict,
      reasons: r.reasons.join('; '),
    })),
    { header: true },
  );
}
