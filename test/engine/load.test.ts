/**
 * The load models without a server: arrival times, counts and drops of the
 * open model, the closed model's iteration count, and that the open model's
 * scheduler sleeps between arrivals instead of spinning (a spinning scheduler
 * takes a core from the server under test and makes the harness look saturated).
 */
import { describe, expect, it } from 'vitest';
import { arrivalTimeMs, runClosed, runOpen } from '../../src/engine/load.js';

const never = new AbortController().signal;

describe('arrivalTimeMs', () => {
  it('constant rate: k / r', () => {
    expect(arrivalTimeMs({ ratePerSecond: 200, maxInFlight: 1 }, 0)).toBe(0);
    expect(arrivalTimeMs({ ratePerSecond: 200, maxInFlight: 1 }, 100)).toBe(500);
  });
  it('a linear ramp from r0 to r1 over T: arrivals so far are r0·t + a·t²/2', () => {
    const model = { ratePerSecond: 100, rampToPerSecond: 300, durationMs: 10_000, maxInFlight: 1 };
    // After 10 s: 100·10 + 20·100/2 = 2,000 arrivals.
    expect(arrivalTimeMs(model, 2_000)).toBeCloseTo(10_000, 6);
    expect(arrivalTimeMs(model, 100)).toBeLessThan(1_000); // faster than 100/s once ramping
  });
});

describe('runOpen', () => {
  it('starts every arrival of the window, each measured from its scheduled start', async () => {
    const latencies: number[] = [];
    const stats = await runOpen({ ratePerSecond: 200, maxInFlight: 100 }, { durationMs: 500, signal: never }, async () => ({}), (us) => latencies.push(us));
    expect(stats.scheduled).toBe(100);
    expect(stats.started).toBe(100);
    expect(stats.dropped).toBe(0);
    expect(latencies).toHaveLength(100);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(0);
  });

  it('drops arrivals that find maxInFlight running, and counts them', async () => {
    const outcomes: (string | undefined)[] = [];
    const stats = await runOpen(
      { ratePerSecond: 1_000, maxInFlight: 2 },
      { total: 50, signal: never },
      () => new Promise((r) => setTimeout(() => r({}), 200)),
      (_us, o) => outcomes.push(o.error),
    );
    expect(stats.started + stats.dropped).toBe(50);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(outcomes.filter((e) => e === 'dropped')).toHaveLength(stats.dropped);
  });

  it('sleeps between arrivals: a few % of a core at 1,000/s, not a spinning loop', async () => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await runOpen({ ratePerSecond: 1_000, maxInFlight: 1_000 }, { durationMs: 1_000, signal: never }, () => new Promise((r) => setTimeout(() => r({}), 1)), () => {});
    const cpu = process.cpuUsage(cpu0);
    const cores = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    // Measured about 0.03 cores; a setImmediate spin measured 1.0.
    expect(cores).toBeLessThan(0.5);
  });
});

describe('runClosed', () => {
  it('runs exactly `total` iterations over N workers', async () => {
    let running = 0;
    let peak = 0;
    const n = await runClosed(4, { total: 37, signal: never }, async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setImmediate(r));
      running--;
      return {};
    }, () => {});
    expect(n).toBe(37);
    expect(peak).toBe(4);
  });
});
