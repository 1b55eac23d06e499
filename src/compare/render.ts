/**
 * Rendering a comparison: terminal table, GitHub Markdown (for a CI step
 * summary), CSV and JSON. Pure functions of the Comparison value.
 */
import { stringify } from 'csv-stringify/sync';
import { formatMs, renderColumns } from '../reporters/table.js';
import type { Comparison, ComparisonRow, SideStats } from './compare.js';
import { describeDelta, notableDeltas } from './profiles.js';
import { detections, type Detection, type NoiseFile } from './noise.js';
import { minSamplesFor } from './rows.js';

const pct = (v: number | undefined) => (v === undefined ? '' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);
const ms = (v: number | undefined) => (v === undefined ? '' : formatMs(v));
const verdictMark: Record<ComparisonRow['verdict'], string> = {
  regression: 'REGRESSION',
  improvement: 'better',
  same: 'same',
  'not-comparable': 'not comparable',
  'only-baseline': 'only in baseline',
  'only-candidate': 'only in candidate',
};

/** The smallest latency change this row would call: the larger of the threshold and what the test can tell from noise. */
export function detectableOf(r: ComparisonRow, c: Comparison): number | undefined {
  if (!r.latencyTest || r.verdict === 'not-comparable') return undefined;
  return Math.max(c.thresholds.p99, r.latencyTest.detectable, r.latencyTest.noiseBand ?? 0);
}

const statOf = (r: ComparisonRow, side: 'baseline' | 'candidate') => (r.statistic ? r[side]?.[r.statistic] : undefined);

const columns = (c: Comparison) => [
  { header: 'step', value: (r: ComparisonRow) => String(r.step) },
  { header: 'level', value: (r: ComparisonRow) => String(r.level) },
  { header: 'phase', align: 'left' as const, value: (r: ComparisonRow) => r.phase },
  { header: 'operation', align: 'left' as const, value: (r: ComparisonRow) => r.op },
  { header: 'stat', value: (r: ComparisonRow) => r.statistic ?? '' },
  { header: 'base ms', value: (r: ComparisonRow) => ms(statOf(r, 'baseline')) },
  { header: 'cand ms', value: (r: ComparisonRow) => ms(statOf(r, 'candidate')) },
  { header: 'Δ', value: (r: ComparisonRow) => pct(r.delta) },
  { header: 'ops/s base', value: (r: ComparisonRow) => opsPerSecond(r.baseline) },
  { header: 'ops/s cand', value: (r: ComparisonRow) => opsPerSecond(r.candidate) },
  { header: 'Δops/s', value: (r: ComparisonRow) => pct(r.deltaThroughput) },
  { header: 'q', value: (r: ComparisonRow) => (r.latencyTest?.qWorse === undefined ? '' : r.latencyTest.qWorse.toFixed(3)) },
  { header: 'detects', value: (r: ComparisonRow) => formatDetectable(detectableOf(r, c)) },
  { header: 'verdict', align: 'left' as const, value: (r: ComparisonRow) => `${verdictMark[r.verdict]}${r.reasons.length ? ` (${r.reasons.join('; ')})` : ''}` },
];

/** A side's throughput; blank when every repetition was set aside (saturated), not "0.0". */
function opsPerSecond(side: SideStats | undefined): string {
  return side?.repetitions ? side.throughput.toFixed(1) : '';
}

/**
 * The smallest change a row can detect, as a percentage. Beyond tenfold the figure only says
 * the row is noise-bound (an A/A on a busy machine gave "≥38672898%"), so it reads "> 10×".
 */
export function formatDetectable(fraction: number | undefined): string {
  if (fraction === undefined) return '';
  return fraction > 9 ? '> 10×' : `≥ ${(fraction * 100).toFixed(0)}%`;
}

export interface CompareLabels {
  baseline: string;
  candidate: string;
}

function headline(c: Comparison, labels: CompareLabels): string {
  const reps = c.repetitions.baseline > 1 || c.repetitions.candidate > 1 ? ` over ${c.repetitions.baseline} vs ${c.repetitions.candidate} repetitions` : '';
  const unjudged = c.notComparable > 0 ? ` ${c.notComparable} rows not comparable.` : '';
  const verdict =
    c.verdict === 'regression'
      ? `REGRESSION: ${c.regressions} of ${c.judged} judged rows of ${labels.candidate} are worse than ${labels.baseline}${reps}.`
      : c.verdict === 'inconclusive'
        ? `INCONCLUSIVE: no row of ${labels.candidate} vs ${labels.baseline}${reps} could be judged.`
        : `No regression: ${labels.candidate} vs ${labels.baseline}${reps} (${c.judged} rows judged, ${c.improvements} better).`;
  const caution =
    c.tests === 0 && c.judged > 0
      ? ' Caution: fewer than 3 repetitions per side and no noise file, so no significance test; on a busy machine single runs differ by tens of percent (use 3 repetitions or more per side, folders of runs, or a noise file).'
      : '';
  return verdict + unjudged + caution;
}

/** How the verdicts were reached, in one paragraph. */
export function methodLine(c: Comparison): string {
  const t = c.thresholds;
  const test =
    c.tests === 0
      ? 'no significance test (thresholds alone)'
      : `${c.tests} one-sided t-tests on log figures (${c.noise ? `pooled with the noise calibrated over ${c.noise.runs} runs of ${c.noise.server} on ${c.noise.platform}` : "Student's, variance pooled over both sides"}), Benjamini-Hochberg false-discovery rate ${t.alpha} across them, and the exact Mann-Whitney check with ≥ 3 repetitions per side`;
  return (
    `Rows are judged on the highest percentile their samples support (p99 from 1,000 successful requests per repetition, p90 from 100, p50 from 20). ` +
    `Regression: +${t.p99 * 100}% and > ${t.p99FloorMs} ms on that percentile, throughput −${t.throughput * 100}% (duration-bound closed phases), a new error class, or error rate +${t.errorRate * 100} points; ${test}.`
  );
}

/** The rows the comparison can detect changes in, as sentences: "detects p99 changes ≥ 14% for list.cache". */
export function detectionLines(c: Comparison): string[] {
  return c.rows
    .filter((r) => detectableOf(r, c) !== undefined)
    .map((r) => `step ${r.step} ${r.phase}: detects ${r.statistic} changes ${formatDetectable(detectableOf(r, c))} for ${r.op}`);
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
  return `${headline(c, labels)}\n\n${renderColumns(c.rows, columns(c))}${profiles.length > 0 ? `\n\n${profiles.join('\n')}` : ''}`;
}

export function renderCompareMarkdown(c: Comparison, labels: CompareLabels): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const cols = columns(c);
  const detection = detectionLines(c);
  const lines = [
    `## asa-bench compare: ${esc(labels.candidate)} vs ${esc(labels.baseline)}`,
    '',
    `**${headline(c, labels)}**`,
    '',
    methodLine(c),
    '',
    `| ${cols.map((col) => col.header).join(' | ')} |`,
    `| ${cols.map((col) => (col.align === 'left' ? ':--' : '--:')).join(' | ')} |`,
    ...c.rows.map((r) => `| ${cols.map((col) => esc(col.value(r))).join(' | ')} |`),
    ...(detection.length ? ['', '<details><summary>What this comparison can detect</summary>', '', ...detection.map((l) => `- ${l}`), '', '</details>'] : []),
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
      statistic: r.statistic ?? '',
      baseline_p50_ms: r.baseline?.p50 ?? '',
      baseline_p99_ms: r.baseline?.p99 ?? '',
      candidate_p50_ms: r.candidate?.p50 ?? '',
      candidate_p99_ms: r.candidate?.p99 ?? '',
      baseline_ms: statOf(r, 'baseline') ?? '',
      candidate_ms: statOf(r, 'candidate') ?? '',
      delta: r.delta ?? '',
      baseline_ops_per_s: r.baseline?.repetitions ? r.baseline.throughput : '',
      candidate_ops_per_s: r.candidate?.repetitions ? r.candidate.throughput : '',
      delta_ops_per_s: r.deltaThroughput ?? '',
      p_value: r.latencyTest?.pWorse ?? '',
      q_value: r.latencyTest?.qWorse ?? '',
      detectable: detectableOf(r, c) ?? '',
      verdict: r.verdict,
      reasons: r.reasons.join('; '),
    })),
    { header: true },
  );
}

/** The whole comparison as JSON, with the labels and the detection sentences. */
export function renderCompareJson(c: Comparison, labels: CompareLabels): string {
  return JSON.stringify({ labels, ...c, detection: detectionLines(c) }, null, 2);
}

/**
 * What a calibration says: per row, the spread between identical runs and the
 * smallest change a comparison of `repeat` vs `repeat` runs would call there.
 */
export function renderNoise(noise: NoiseFile, repeat: number, alpha: number): string {
  const { tests, rows } = detections(noise, repeat, alpha);
  const cols = [
    { header: 'step', value: (d: Detection) => String(d.step) },
    { header: 'phase', align: 'left' as const, value: (d: Detection) => d.phase },
    { header: 'operation', align: 'left' as const, value: (d: Detection) => d.op },
    { header: 'samples', value: (d: Detection) => String(d.samples) },
    { header: 'stat', value: (d: Detection) => d.stat ?? '' },
    { header: 'runs', value: (d: Detection) => (d.stat ? String(d.runs) : '') },
    { header: 'spread', value: (d: Detection) => (d.spread === undefined ? '' : `±${(d.spread * 100).toFixed(1)}%`) },
    { header: `detects (${repeat} vs ${repeat})`, value: (d: Detection) => formatDetectable(d.detectable) },
    {
      header: 'note',
      align: 'left' as const,
      value: (d: Detection) =>
        [d.stat ? '' : `too few samples (a p50 needs ≥ ${minSamplesFor('p50')} a run)`, d.saturatedRuns ? `harness saturated in ${d.saturatedRuns} runs (left out)` : ''].filter(Boolean).join('; '),
    },
  ];
  const head =
    `Noise of ${noise.server} against itself over ${noise.runs} runs of ${noise.scenario.name} on ${noise.machine.cores} cores (${noise.machine.platform}). ` +
    `spread: standard deviation of the log figure between identical runs; detects: the smallest change a comparison of ${repeat} vs ${repeat} runs with this noise file calls when it is the only row that changed ` +
    `(one-sided, Benjamini-Hochberg level α/m = ${alpha}/${tests}); the relative threshold (default 10%) applies on top.`;
  const sentences = rows.filter((d) => d.detectable !== undefined).map((d) => `detects ${d.stat} changes ${formatDetectable(d.detectable)} for ${d.op} (step ${d.step} ${d.phase})`);
  return [head, '', renderColumns(rows, cols), '', ...sentences].join('\n');
}
