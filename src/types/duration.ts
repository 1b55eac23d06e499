/**
 * Durations as scenario files and SLOs write them (`500ms`, `30s`, `5m`, `1h`).
 * A neutral low module: the scenario schema validates with it, the plan and
 * SLO checks read it, and neither has to import the other.
 */

/** A number followed by ms, s, m or h. */
export const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDurationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
