/**
 * A stacked area chart in the style of svg.ts's line chart (same axes, palette,
 * escaping): each layer is one `<path class="band" data-series="…">` polygon
 * stacked on the layers before it, e.g. heap by component against CRD count.
 */
import { escapeXml, formatTick, linearAxis, PALETTE } from './svg.js';

export interface StackedLayer {
  name: string;
  /** One value per x, same order as `xs`; negative values are drawn as 0. */
  values: readonly number[];
}

export interface StackedChartOptions {
  id?: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xs: readonly number[];
  layers: readonly StackedLayer[];
  width?: number;
  plotHeight?: number;
  yFormat?: (v: number) => string;
}

function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

export function stackedAreaChart(opts: StackedChartOptions): string {
  const width = opts.width ?? 720;
  const plotHeight = opts.plotHeight ?? 280;
  const yFormat = opts.yFormat ?? formatTick;
  const xs = opts.xs;
  const totals = xs.map((_, i) => opts.layers.reduce((a, l) => a + Math.max(0, l.values[i] ?? 0), 0));
  const xAxis = linearAxis(Math.min(0, ...xs), Math.max(1, ...xs));
  const yAxis = linearAxis(0, Math.max(1e-9, ...totals));
  const left = Math.max(48, 22 + Math.max(...yAxis.ticks.map((t) => yFormat(t).length * 6.8)) + 8);
  const top = 40;
  const bottom = top + plotHeight;
  const x0 = left;
  const x1 = width - 20;
  const px = (v: number) => x0 + ((v - xAxis.min) / (xAxis.max - xAxis.min)) * (x1 - x0);
  const py = (v: number) => bottom - ((v - yAxis.min) / (yAxis.max - yAxis.min)) * (bottom - top);
  const legendRows = Math.ceil(opts.layers.length / 3);
  const height = bottom + 58 + legendRows * 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg"${opts.id ? ` id="${escapeXml(opts.id)}"` : ''} class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(opts.title)}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(opts.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${x0}" y="22" font-size="15" font-weight="600" fill="#222">${escapeXml(opts.title)}</text>`,
    '<g class="grid" stroke="#e3e3e3" stroke-width="1">',
    ...yAxis.ticks.map((t) => `<line x1="${n(x0)}" x2="${n(x1)}" y1="${n(py(t))}" y2="${n(py(t))}"/>`),
    '</g>',
  ];
  const base = xs.map(() => 0);
  opts.layers.forEach((layer, li) => {
    const lower = [...base];
    xs.forEach((_, i) => (base[i] = base[i]! + Math.max(0, layer.values[i] ?? 0)));
    const upperPts = xs.map((x, i) => `${n(px(x))} ${n(py(base[i]!))}`);
    const lowerPts = xs.map((x, i) => `${n(px(x))} ${n(py(lower[i]!))}`).reverse();
    const color = PALETTE[li % PALETTE.length]!;
    const tip = xs.map((x, i) => `${formatTick(x)}: ${yFormat(Math.max(0, layer.values[i] ?? 0))}`).join(', ');
    out.push(
      `<path class="band" data-series="${escapeXml(layer.name)}" d="M${upperPts.join(' L')} L${lowerPts.join(' L')} Z" fill="${color}" fill-opacity="0.75" stroke="${color}" stroke-width="1"><title>${escapeXml(`${layer.name} — ${tip}`)}</title></path>`,
    );
  });
  out.push('<g class="axes" stroke="#555" stroke-width="1">', `<line x1="${n(x0)}" x2="${n(x1)}" y1="${bottom}" y2="${bottom}"/>`, `<line x1="${n(x0)}" x2="${n(x0)}" y1="${top}" y2="${bottom}"/>`, '</g>');
  out.push('<g class="tick-labels" fill="#444">');
  for (const t of yAxis.ticks) out.push(`<text x="${n(x0 - 8)}" y="${n(py(t) + 4)}" text-anchor="end">${escapeXml(yFormat(t))}</text>`);
  for (const x of xs) out.push(`<text x="${n(px(x))}" y="${bottom + 19}" text-anchor="middle">${escapeXml(formatTick(x))}</text>`);
  out.push('</g>');
  out.push(
    `<text class="x-label" x="${n((x0 + x1) / 2)}" y="${bottom + 40}" text-anchor="middle" fill="#222">${escapeXml(opts.xLabel)}</text>`,
    `<text class="y-label" transform="translate(14 ${n((top + bottom) / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(opts.yLabel)}</text>`,
  );
  out.push('<g class="legend">');
  const colWidth = (x1 - x0) / 3;
  opts.layers.forEach((layer, i) => {
    const x = x0 + (i % 3) * colWidth;
    const y = bottom + 62 + Math.floor(i / 3) * 20;
    out.push(`<rect x="${n(x)}" y="${n(y - 10)}" width="14" height="10" fill="${PALETTE[i % PALETTE.length]}"/>`, `<text x="${n(x + 20)}" y="${n(y)}" fill="#222">${escapeXml(layer.name)}</text>`);
  });
  out.push('</g>', '</svg>');
  return out.join('\n');
}
