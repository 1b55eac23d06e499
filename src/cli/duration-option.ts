/**
 * Command-line options that take a time: kubectl-style durations (`30s`,
 * `1m30s`, `500ms`) or a bare number in the option's own unit. The value the
 * handler sees is milliseconds; junk is a usage error (exit 2) naming the flag.
 */
import { DURATION_EXAMPLES, formatDurationMs, parseCliDurationMs } from '../types/duration.js';
import { UsageError } from '../types/errors.js';

export function durationOption(flag: string, opts: { default: string; bareUnit: 's' | 'ms'; min?: number; describe: string }) {
  const bare = opts.bareUnit === 's' ? 'seconds' : 'milliseconds';
  return {
    type: 'string',
    default: opts.default,
    describe: `${opts.describe} (a duration such as ${DURATION_EXAMPLES}; a bare number is ${bare})`,
    coerce: (value: string | number | Array<string | number>): number => {
      // Repeated flags arrive as an array: the last one wins, as for other options.
      const last = Array.isArray(value) ? value[value.length - 1]! : value;
      const ms = parseCliDurationMs(last, opts.bareUnit);
      if (ms === undefined) throw new UsageError(`--${flag} ${JSON.stringify(String(last))}: expected a duration such as ${DURATION_EXAMPLES}`);
      if (opts.min !== undefined && ms < opts.min) throw new UsageError(`--${flag} ${last}: must be at least ${formatDurationMs(opts.min)}`);
      return ms;
    },
  } as const;
}
