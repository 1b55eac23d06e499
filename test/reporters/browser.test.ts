/**
 * The HTML report in a real headless Chromium (Debian's `chromium` package):
 * it loads without console errors or network requests, its charts have a
 * size on the page, and what they paint is not blank.
 *
 * Blank check: each chart <svg> is screenshotted as it is rendered in the
 * page; those PNGs are decoded by a canvas in a second, empty page, which
 * counts distinct colours and pixels in the first series' colour. A chart that
 * painted nothing (or only its white background) fails. The full-page
 * screenshot must also differ from one of an empty page of the same size.
 *
 * Needs /usr/bin/chromium: `apt-get install -y chromium`. Fails (not skips)
 * without it.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/reporters/html.js';
import { PALETTE } from '../../src/reporters/svg.js';
import { makeReport } from './fixtures.js';

/** Debian's Chromium; ASA_CHROMIUM overrides the path. */
const CHROMIUM = process.env.ASA_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.ASA_REPORT_SCREENSHOT ?? path.join(tmpdir(), 'report-screenshot.png');
const VIEWPORT = { width: 1280, height: 900 };

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser test needs Debian's Chromium. Install it with: apt-get install -y chromium`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 20_000 });
}

interface PixelStats {
  width: number;
  height: number;
  colours: number;
  nonWhite: number;
  seriesColour: number;
}

/** Decodes PNGs with a canvas in a blank page and counts colours. */
async function pixelStats(b: Browser, pngs: Buffer[], seriesHex: string): Promise<PixelStats[]> {
  const page = await b.newPage();
  try {
    const rgb = [1, 3, 5].map((i) => parseInt(seriesHex.slice(i, i + 2), 16));
    return await page.evaluate(
      async ({ urls, rgb }) => {
        const stats = [];
        for (const url of urls) {
          const img = new Image();
          img.src = url;
          await img.decode();
          const canvas = document.createElement('canvas');
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const ctx = canvas.getContext('2d')!;
          ctx.drawImage(img, 0, 0);
          const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          const colours = new Set<number>();
          let nonWhite = 0;
          let seriesColour = 0;
          for (let i = 0; i < data.length; i += 4) {
            const r = data[i]!;
            const g = data[i + 1]!;
            const bl = data[i + 2]!;
            colours.add((r << 16) | (g << 8) | bl);
            if (r < 250 || g < 250 || bl < 250) nonWhite++;
            if (Math.abs(r - rgb[0]!) < 24 && Math.abs(g - rgb[1]!) < 24 && Math.abs(bl - rgb[2]!) < 24) seriesColour++;
          }
          stats.push({ width: canvas.width, height: canvas.height, colours: colours.size, nonWhite, seriesColour });
        }
        return stats;
      },
      { urls: pngs.map((p) => `data:image/png;base64,${p.toString('base64')}`), rgb },
    );
  } finally {
    await page.close();
  }
}

/** Everything the test checks, on one launched browser. */
async function checkReport(b: Browser): Promise<void> {
  const html = renderHtml(makeReport({ by: 'rate', server: true, analysis: true }));
  const page = await b.newPage({ viewport: VIEWPORT });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (req) => requests.push(req.url()));
  try {
    await page.setContent(html, { waitUntil: 'load', timeout: 10_000 });

    const boxes = await page.$$eval('svg', (els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { id: e.id, width: r.width, height: r.height };
      }),
    );
    expect(boxes.length).toBeGreaterThanOrEqual(2);
    expect(boxes.map((box) => box.id)).toEqual(['chart-latency', 'chart-throughput', 'chart-memory', 'chart-errors']);
    for (const box of boxes) {
      expect(box.width, box.id).toBeGreaterThan(100);
      expect(box.height, box.id).toBeGreaterThan(100);
    }

    // Every chart, as painted in the page.
    const shots: Buffer[] = [];
    for (const box of boxes) shots.push(await page.locator(`svg#${box.id}`).screenshot({ timeout: 5_000 }));
    const stats = await pixelStats(b, shots, PALETTE[0]!);
    stats.forEach((s, i) => {
      const id = boxes[i]!.id;
      expect(s.width, id).toBeGreaterThan(100);
      // Background, grid, axes, antialiased text and series colours.
      expect(s.colours, `${id} distinct colours`).toBeGreaterThanOrEqual(8);
      expect(s.nonWhite / (s.width * s.height), `${id} painted fraction`).toBeGreaterThan(0.01);
      // The first series is drawn in the palette's first colour.
      expect(s.seriesColour, `${id} pixels in ${PALETTE[0]}`).toBeGreaterThan(40);
    });

    // The whole page: saved for a person to look at, and not an empty page.
    await writeFile(SCREENSHOT, await page.screenshot({ fullPage: true, timeout: 10_000 }));
    const top = await page.screenshot({ timeout: 10_000 });
    const empty = await b.newPage({ viewport: VIEWPORT });
    try {
      await empty.setContent('<!doctype html><html><body></body></html>');
      const blank = await empty.screenshot({ timeout: 10_000 });
      expect(top.equals(blank)).toBe(false);
      const [pageStats, blankStats] = await pixelStats(b, [top, blank], PALETTE[0]!);
      expect(blankStats!.colours).toBeLessThanOrEqual(2);
      expect(pageStats!.colours).toBeGreaterThan(50);
    } finally {
      await empty.close();
    }

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  } finally {
    await page.close();
  }
}

describe('HTML report in headless Chromium', () => {
  it('renders visible, non-blank charts without errors or requests', async () => {
    const b = await launch();
    try {
      await checkReport(b);
    } finally {
      await b.close();
    }
  }, 30_000);
});
