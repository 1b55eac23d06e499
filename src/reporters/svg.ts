/**
 * A small, dependency-free SVG line chart: axes, ticks, grid, axis labels,
 * a legend, several series, linear or log scales. Output is a standalone
 * `<svg>` element (inline attributes only, no scripts, no external fonts), so
 * it can be embedded in an HTML page or saved as a file.
 *
 * Structure the tests rely on: each drawn series is exactly one
 * `<path class="series" data-series="…" data-points="N">`, whose `d` has one
 * M/L command per point; axes, grid and legend use no `<path>`.
 */

export interface Point {
  x: number;
  y: number;
}

export interface ChartSeries {
  name: string;
  points: readonly Point[];
  /** Stroke colour; defaults to the palette by position. */
  color?: string;
  dashed?: boolean;
}

export type ScaleType = 'linear' | 'log';

export interface LineChartOptions {
  /** `id` attribute of the `<svg>`. */
  id?: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Total width in px (default 720). */
  width?: number;
  /** Height of the plot area in px (default 280); the legend adds to it. */
  plotHeight?: number;
  /** `auto`: log when every value is positive and they span ≥ `autoLogRatio`. Default linear. */
  xScale?: ScaleType | 'auto';
  yScale?: ScaleType | 'auto';
  autoLogRatio?: number;
  /** Linear scales: include zero in the domain (default: y yes, x no). */
  xFromZero?: boolean;
  yFromZero?: boolean;
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  /** Linear y axis of counts: whole-number ticks only. */
  yInteger?: boolean;
  /** Draw a dot at every point (default true). */
  markers?: boolean;
}

/** Okabe–Ito based palette: distinguishable for common colour-vision deficiencies. */
export const PALETTE: readonly string[] = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#000000',
  '#8C6D31',
  '#999999',
  '#7B3294',
];

const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function clean(v: number): number {
  return Number(v.toPrecision(12));
}

/** A compact tick label: `0.5`, `12`, `2.5k`, `1.2M`. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${clean(v / 1e9)}G`;
  if (a >= 1e6) return `${clean(v / 1e6)}M`;
  if (a >= 1e4) return `${clean(v / 1e3)}k`;
  if (a === 0) return '0';
  return String(Number(v.toPrecision(3)));
}

export interface Axis {
  type: ScaleType;
  min: number;
  max: number;
  ticks: number[];
}

function niceStep(raw: number, integer: boolean): number {
  if (integer && raw <= 1) return 1;
  const exp = Math.floor(Math.log10(raw));
  const base = 10 ** exp;
  const f = raw / base;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 && !(integer && exp === 0) ? 2.5 : f <= 5 ? 5 : 10;
  return nice * base;
}

/** A linear axis covering [lo, hi] with about `target` round ticks (whole numbers if `integer`). */
export function linearAxis(lo: number, hi: number, target = 5, integer = false): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep((hi - lo) / target, integer);
  const min = clean(Math.floor(lo / step) * step);
  const max = clean(Math.ceil(hi / step) * step);
  const ticks: number[] = [];
  for (let k = 0; min + k * step <= max + step * 1e-9; k++) ticks.push(clean(min + k * step));
  return { type: 'linear', min, max, ticks };
}

/** A log₁₀ axis covering [lo, hi] (both > 0), ticks at 1-2-5 or powers of ten. */
export function logAxis(lo: number, hi: number): Axis {
  let e0 = Math.floor(Math.log10(lo));
  let e1 = Math.ceil(Math.log10(hi));
  if (e0 === e1) {
    e0 -= 1;
    e1 += 1;
  }
  const decades = e1 - e0;
  const mults = decades <= 2 ? [1, 2, 5] : decades <= 4 ? [1, 3] : [1];
  const step = decades > 8 ? Math.ceil(decades / 8) : 1;
  const ticks: number[] = [];
  for (let e = e0; e <= e1; e += step) {
    for (const m of mults) {
      const v = clean(m * 10 ** e);
      if (v <= 10 ** e1 * (1 + 1e-9)) ticks.push(v);
    }
  }
  return { type: 'log', min: 10 ** e0, max: 10 ** e1, ticks };
}

function chooseAxis(values: number[], scale: ScaleType | 'auto', fromZero: boolean, autoRatio: number, integer = false): Axis {
  const finite = values.filter((v) => Number.isFinite(v));
  const positive = finite.filter((v) => v > 0);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const useLog =
    scale === 'log' ? positive.length > 0 : scale === 'auto' ? finite.length > 0 && positive.length === finite.length && hi / lo >= autoRatio : false;
  if (useLog) return logAxis(Math.min(...positive), Math.max(...positive));
  if (finite.length === 0) return linearAxis(0, 1, 5, integer);
  return linearAxis(fromZero ? Math.min(0, lo) : lo, fromZero ? Math.max(0, hi) : hi, 5, integer);
}

function project(axis: Axis, v: number, from: number, to: number): number {
  const t =
    axis.type === 'log'
      ? (Math.log10(v) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min))
      : (v - axis.min) / (axis.max - axis.min);
  return from + t * (to - from);
}

function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Rough width of a label at 12px sans-serif. */
function textWidth(text: string): number {
  return text.length * 6.8;
}

/** The plot area in pixels and the two axes' projections onto it. */
interface Frame {
  x0: number;
  x1: number;
  top: number;
  plotBottom: number;
  px: (v: number) => number;
  py: (v: number) => number;
}

type DrawnSeries = ChartSeries & { color: string; dash: string };

/** Renders a line chart as an `<svg>` element. */
export function lineChart(opts: LineChartOptions): string {
  const width = opts.width ?? 720;
  const xFormat = opts.xFormat ?? formatTick;
  const yFormat = opts.yFormat ?? formatTick;
  const { xAxis, yAxis } = chartAxes(opts);
  const drawn = drawnSeries(opts.series, xAxis, yAxis);
  const yTickLabels = yAxis.ticks.map(yFormat);
  const left = Math.max(48, 22 + Math.max(...yTickLabels.map(textWidth)) + 8);
  const top = 40;
  const plotBottom = top + (opts.plotHeight ?? 280);
  const x0 = left;
  const x1 = width - 20;
  const frame: Frame = { x0, x1, top, plotBottom, px: (v) => project(xAxis, v, x0, x1), py: (v) => project(yAxis, v, plotBottom, top) };
  // Legend: items laid out in rows under the x-axis label.
  const legend = legendLayout(drawn, x0, x1, plotBottom + 58);
  const height = (drawn.length > 0 ? legend.bottom + 14 : plotBottom + 50) + 6;
  const idAttr = opts.id ? ` id="${escapeXml(opts.id)}"` : '';
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg"${idAttr} class="chart" width="${width}" height="${n(height)}" viewBox="0 0 ${width} ${n(height)}" role="img" aria-label="${escapeXml(opts.title)}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(opts.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${n(height)}" fill="#ffffff"/>`,
    `<text x="${x0}" y="22" font-size="15" font-weight="600" fill="#222">${escapeXml(opts.title)}</text>`,
    ...gridAndAxes(frame, xAxis, yAxis, yTickLabels, xFormat, opts.xLabel, opts.yLabel),
  ];
  if (drawn.length === 0) {
    out.push(`<text x="${n((x0 + x1) / 2)}" y="${n((top + plotBottom) / 2)}" text-anchor="middle" fill="#888">no data</text>`);
  }
  for (const s of drawn) out.push(...seriesGroup(frame, s, opts.markers ?? true, xFormat, yFormat));
  out.push('<g class="legend">');
  for (const { x, y, s } of legend.items) {
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<line x1="${n(x)}" x2="${n(x + 24)}" y1="${n(y - 4)}" y2="${n(y - 4)}" stroke="${escapeXml(s.color)}" stroke-width="2.5"${dash}/>`,
      `<text x="${n(x + 30)}" y="${n(y)}" fill="#222">${escapeXml(s.name)}</text>`,
    );
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n');
}

/** Both axes over every point: x linear from its data by default, y from zero. */
function chartAxes(opts: LineChartOptions): { xAxis: Axis; yAxis: Axis } {
  const autoRatio = opts.autoLogRatio ?? 30;
  const allPoints = opts.series.flatMap((s) => s.points);
  return {
    xAxis: chooseAxis(
      allPoints.map((p) => p.x),
      opts.xScale ?? 'linear',
      opts.xFromZero ?? false,
      autoRatio,
    ),
    yAxis: chooseAxis(
      allPoints.map((p) => p.y),
      opts.yScale ?? 'linear',
      opts.yFromZero ?? true,
      autoRatio,
      opts.yInteger ?? false,
    ),
  };
}

/** The series with their colour and dash, keeping the points the axes can show (a log axis shows no zero); empty series go. */
function drawnSeries(series: readonly ChartSeries[], xAxis: Axis, yAxis: Axis): DrawnSeries[] {
  const valid = (axisType: ScaleType, v: number) => Number.isFinite(v) && (axisType === 'linear' || v > 0);
  return series
    .map((s, i) => ({
      ...s,
      color: s.color ?? PALETTE[i % PALETTE.length]!,
      dash: s.dashed ? '6 4' : DASHES[Math.floor(i / PALETTE.length) % DASHES.length]!,
      points: s.points.filter((p) => valid(xAxis.type, p.x) && valid(yAxis.type, p.y)),
    }))
    .filter((s) => s.points.length > 0);
}

/** Legend items in rows from `top`, wrapping at the plot's right edge; `bottom` is the last row's baseline. */
function legendLayout(drawn: readonly DrawnSeries[], x0: number, x1: number, top: number): { items: { x: number; y: number; s: DrawnSeries }[]; bottom: number } {
  const items: { x: number; y: number; s: DrawnSeries }[] = [];
  let lx = x0;
  let ly = top;
  for (const s of drawn) {
    const w = 30 + textWidth(s.name) + 18;
    if (lx + w > x1 && lx > x0) {
      lx = x0;
      ly += 20;
    }
    items.push({ x: lx, y: ly, s });
    lx += w;
  }
  return { items, bottom: ly };
}

/** Grid lines, axes with their ticks and tick labels, and the two axis labels (noting a log scale). */
function gridAndAxes(f: Frame, xAxis: Axis, yAxis: Axis, yTickLabels: readonly string[], xFormat: (v: number) => string, xLabel: string, yLabel: string): string[] {
  const { x0, x1, top, plotBottom, px, py } = f;
  const out: string[] = [];
  out.push('<g class="grid" stroke="#e3e3e3" stroke-width="1">');
  for (const t of yAxis.ticks) out.push(`<line x1="${n(x0)}" x2="${n(x1)}" y1="${n(py(t))}" y2="${n(py(t))}"/>`);
  for (const t of xAxis.ticks) out.push(`<line x1="${n(px(t))}" x2="${n(px(t))}" y1="${top}" y2="${plotBottom}"/>`);
  out.push('</g>');
  out.push('<g class="axes" stroke="#555" stroke-width="1">');
  out.push(`<line x1="${n(x0)}" x2="${n(x1)}" y1="${plotBottom}" y2="${plotBottom}"/>`);
  out.push(`<line x1="${n(x0)}" x2="${n(x0)}" y1="${top}" y2="${plotBottom}"/>`);
  for (const t of yAxis.ticks) out.push(`<line x1="${n(x0 - 5)}" x2="${n(x0)}" y1="${n(py(t))}" y2="${n(py(t))}"/>`);
  for (const t of xAxis.ticks) out.push(`<line x1="${n(px(t))}" x2="${n(px(t))}" y1="${plotBottom}" y2="${plotBottom + 5}"/>`);
  out.push('</g>');
  out.push('<g class="tick-labels" fill="#444">');
  yAxis.ticks.forEach((t, i) => out.push(`<text x="${n(x0 - 8)}" y="${n(py(t) + 4)}" text-anchor="end">${escapeXml(yTickLabels[i]!)}</text>`));
  for (const t of xAxis.ticks) out.push(`<text x="${n(px(t))}" y="${plotBottom + 19}" text-anchor="middle">${escapeXml(xFormat(t))}</text>`);
  out.push('</g>');
  const scaleNote = (a: Axis) => (a.type === 'log' ? ' (log scale)' : '');
  out.push(
    `<text class="x-label" x="${n((x0 + x1) / 2)}" y="${plotBottom + 40}" text-anchor="middle" fill="#222">${escapeXml(xLabel + scaleNote(xAxis))}</text>`,
    `<text class="y-label" transform="translate(14 ${n((top + plotBottom) / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(yLabel + scaleNote(yAxis))}</text>`,
  );
  return out;
}

/** One series: its path and, with markers, a circle per point whose tooltip gives the values. */
function seriesGroup(f: Frame, s: DrawnSeries, markers: boolean, xFormat: (v: number) => string, yFormat: (v: number) => string): string[] {
  const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(f.px(p.x))} ${n(f.py(p.y))}`).join(' ');
  const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
  const out = [
    `<g class="series-group">`,
    `<path class="series" data-series="${escapeXml(s.name)}" data-points="${s.points.length}" d="${d}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"${dash}/>`,
  ];
  if (markers) {
    for (const p of s.points) {
      out.push(`<circle cx="${n(f.px(p.x))}" cy="${n(f.py(p.y))}" r="3.5" fill="${escapeXml(s.color)}"><title>${escapeXml(`${s.name}: ${xFormat(p.x)} → ${yFormat(p.y)}`)}</title></circle>`);
    }
  }
  out.push('</g>');
  return out;
}
