/**
 * Stop conditions: when the run has found what it came for (or is about to
 * hurt the machine), it stops adding load, measures the step it is in, cleans
 * up and ends `complete`. One syntax for the scenario's `stopWhen:` and the
 * command line's `--stop-when KEY=VALUE`:
 *
 *   serverMemory=16GiB | 800MiB | 85%   kube-apiserver resident memory (a share: of the machine's memory, local control plane only)
 *   <phase>.p99=60s                     a phase's latency percentile (p50, p90, p99, p999, max) of its primary operation
 *   errorRate=5% | 0.05                 share of a phase's requests that failed (429s apart)
 *   elapsed=35m                         wall-clock time since the run started
 */
import { parseDurationMs } from '../types/duration.js';

export type Percentile = 'p50' | 'p90' | 'p99' | 'p999' | 'max';

export type StopCondition =
  | { kind: 'serverMemory'; key: string; text: string; bytes?: number; share?: number }
  | { kind: 'latency'; key: string; text: string; phase: string; percentile: Percentile; ms: number }
  | { kind: 'errorRate'; key: string; text: string; share: number }
  | { kind: 'elapsed'; key: string; text: string; ms: number };

export const STOP_KEY = /^(serverMemory|errorRate|elapsed|[a-z0-9]([-a-z0-9]*[a-z0-9])?\.(p50|p90|p99|p999|max))$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|Ki|Mi|Gi|Ti|KB|MB|GB|TB|K|M|G|T)$/;
const SHARE = /^(\d+(?:\.\d+)?)%$/;
const UNITS: Record<string, number> = {
  B: 1, K: 1e3, KB: 1e3, M: 1e6, MB: 1e6, G: 1e9, GB: 1e9, T: 1e12, TB: 1e12,
  Ki: 2 ** 10, KiB: 2 ** 10, Mi: 2 ** 20, MiB: 2 ** 20, Gi: 2 ** 30, GiB: 2 ** 30, Ti: 2 ** 40, TiB: 2 ** 40,
};

/** Parses one condition; throws an Error whose message says what was expected. */
export function parseStopCondition(key: string, value: string | number): StopCondition {
  const text = String(value).trim();
  if (!STOP_KEY.test(key)) {
    throw new Error(`expected a key serverMemory, errorRate, elapsed or <phase>.<p50|p90|p99|p999|max>, got "${key}"`);
  }
  if (key === 'serverMemory') {
    const share = SHARE.exec(text);
    if (share) {
      const s = Number(share[1]) / 100;
      if (s <= 0 || s > 1) throw new Error(`expected a share of machine memory between 0% and 100%, got ${text}`);
      return { kind: 'serverMemory', key, text, share: s };
    }
    const size = SIZE.exec(text);
    if (!size) throw new Error(`expected a memory size such as 16GiB or 800MiB, or a share of machine memory such as 85%, got "${text}"`);
    return { kind: 'serverMemory', key, text, bytes: Number(size[1]) * UNITS[size[2]!]! };
  }
  if (key === 'errorRate') {
    const share = SHARE.exec(text);
    const s = share ? Number(share[1]) / 100 : /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
    if (!(s > 0 && s <= 1)) throw new Error(`expected an error rate such as 5% or 0.05, got "${text}"`);
    return { kind: 'errorRate', key, text, share: s };
  }
  const ms = durationMs(text);
  if (key === 'elapsed') return { kind: 'elapsed', key, text, ms };
  const [phase, percentile] = key.split('.') as [string, Percentile];
  return { kind: 'latency', key, text, phase, percentile, ms };
}

function durationMs(text: string): number {
  try {
    return parseDurationMs(text);
  } catch {
    throw new Error(`expected a duration such as 500ms, 60s or 35m, got "${text}"`);
  }
}

/** `KEY=VALUE` from the command line. */
export function parseStopFlag(flag: string): StopCondition {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new Error(`expected KEY=VALUE (e.g. serverMemory=16GiB, install.p99=60s, errorRate=5%, elapsed=35m), got "${flag}"`);
  return parseStopCondition(flag.slice(0, eq).trim(), flag.slice(eq + 1));
}

/** Said in a few words, e.g. `serverMemory=85%`. */
export function describeStopCondition(c: StopCondition): string {
  return `${c.key}=${c.text}`;
}
