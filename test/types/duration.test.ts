import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseCliDurationMs, parseDurationMs, tryParseDurationMs } from '../../src/types/duration.js';

describe('durations (Go / kubectl syntax)', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['1s500ms', 1_500],
    ['.5s', 500],
    ['250us', 0.25],
    ['1500µs', 1.5],
    ['1000000ns', 1],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '30', '30 s', '30sec', '1m 30s', 's', '-5s', '+5s', '1d', 'NaNs', '1e3s', '30s '])('rejects %j', (text) => {
    expect(tryParseDurationMs(text)).toBeUndefined();
    expect(() => parseDurationMs(text)).toThrow(/not a duration/);
  });

  it('on the command line a bare number is in the option\'s unit', () => {
    expect(parseCliDurationMs('60', 's')).toBe(60_000);
    expect(parseCliDurationMs(60, 's')).toBe(60_000);
    expect(parseCliDurationMs('2.5', 'ms')).toBe(2.5);
    expect(parseCliDurationMs('1m30s', 's')).toBe(90_000);
    expect(parseCliDurationMs('junk', 's')).toBeUndefined();
    expect(parseCliDurationMs('-1', 's')).toBeUndefined();
    expect(parseCliDurationMs('Infinity', 's')).toBeUndefined();
  });

  it('formats back to a duration that parses to the same value', () => {
    for (const ms of [1, 999, 1000, 90_000, 3_723_004]) expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
    expect(formatDurationMs(90_000)).toBe('1m30s');
    expect(formatDurationMs(0)).toBe('0s');
  });
});
