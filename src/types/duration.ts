/**
 * Durations as Go's time.ParseDuration and kubectl write them: one or more
 * decimal numbers, each with a unit (`500ms`, `30s`, `1m30s`, `1.5h`). One
 * parser for scenario files and the command line, so `30s` means the same in
 * both. Lives in types/ (no imports) so every layer may use it.
 */

const UNIT_MS = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

const PART = String.raw`(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)`;

/** The whole-string pattern (also the JSON Schema's): at least one number+unit part. */
export const DURATION_PATTERN = new RegExp(`^(?:${PART})+$`);

export const DURATION_EXAMPLES = '500ms, 30s, 1m30s or 1h';

/** Milliseconds of a Go-style duration, or undefined when `text` is not one. */
export function tryParseDurationMs(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(new RegExp(PART, 'g'))) total += Number(m[1]) * UNIT_MS[m[2] as Unit];
  return total;
}

/** Milliseconds of a Go-style duration; throws on anything else (validated input only). */
export function parseDurationMs(text: string): number {
  const ms = tryParseDurationMs(text);
  if (ms === undefined) throw new Error(`not a duration: ${text}`);
  return ms;
}

/**
 * A duration given on the command line: Go-style, or a bare non-negative
 * number in `bareUnit` (kubectl's --request-timeout takes `60` as seconds).
 * Undefined for junk, negative or non-finite values.
 */
export function parseCliDurationMs(text: string | number, bareUnit: 's' | 'ms'): number | undefined {
  const s = String(text).trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s) * UNIT_MS[bareUnit];
  return tryParseDurationMs(s);
}

/** `90000` → `1m30s`: the shortest Go-style spelling of whole milliseconds, for messages and child flags. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}
