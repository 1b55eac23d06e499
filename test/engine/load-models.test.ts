/**
 * The load models without a server: arrival times, counts and drops of the
 * open model, the closed model's iteration count, and that the open model's
 * scheduler sleeps between arrivals instead of spinning (a spinning scheduler
 * takes a core from the server under test and makes the harness look saturated).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { arrivalTimeMs, runClosed, runOpen, type Iteration } from '../../src/engine/load-models.js';
import { TimerPacer, type Pacer } from '../../src/engine/pacer.js';
import { judgeSchedule, withScheduleVerdict } from '../../src/metrics/harness.js';

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

  it('records the scheduling lag of every started arrival, never negative', async () => {
    const stats = await runOpen({ ratePerSecond: 500, maxInFlight: 1_000 }, { durationMs: 400, signal: never }, async () => ({}), () => {});
    expect(stats.lag.totalCount).toBe(stats.started);
    expect(stats.started).toBe(200);
    // Recorded in µs with 1 µs as the floor: an arrival sent early would need a negative value.
    expect(stats.lag.minNonZeroValue).toBeGreaterThanOrEqual(1);
  });
});

/**
 * The scheduler at 2,000/s, without a server. Its budgets (lag p99 < 0.5 ms,
 * CPU < 0.25 cores) are benchmark targets, measured in a process of their own
 * by `npm run bench:engine` (Benchmark 2b): a test worker's process CPU also
 * holds vitest's own work, and CI read 0.257 cores here on a run the scheduler
 * alone measures well under budget. What is pinned here is what a busy machine
 * cannot blur: the lag budget on a quiet run (timers measured p99
 * 1.1-1.5 ms), and the scheduler does not spin (a setImmediate
 * spin measured 1.0 core). A thread that is ready but waiting for a CPU is
 * late whatever the code does, so a run is judged only when the main thread
 * waited for a CPU less than 0.5 % of it (its run-queue time,
 * /proc/thread-self/schedstat); up to five runs are tried.
 */
describe('open-model scheduler at 2,000/s', () => {
  /** Scheduling lag p99 budget on a quiet run, ms. */
  const LAG_P99_MS = 0.5;
  /** Process CPU bound, cores: far from the budget (0.25), far below a spin (1.0). */
  const CPU_CORES = 0.6;
  /** A run counts when the main thread waited for a CPU less than this share of it. */
  const QUIET = 0.005;

  /** ns the calling thread has waited on a run queue (Linux), or undefined. */
  const runQueueNs = () => {
    try {
      return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
    } catch {
      return undefined;
    }
  };

  async function measure(pacer?: Pacer) {
    const cpu0 = process.cpuUsage();
    const wait0 = runQueueNs();
    const t0 = performance.now();
    const stats = await runOpen({ ratePerSecond: 2_000, maxInFlight: 10_000 }, { durationMs: 1_000, signal: never }, async () => ({}), () => {}, pacer ? { pacer } : {});
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const wait1 = runQueueNs();
    return {
      stats,
      lagP50Ms: stats.lag.getValueAtPercentile(50) / 1000,
      lagP99Ms: stats.lag.getValueAtPercentile(99) / 1000,
      cores: (cpu.user + cpu.system) / 1000 / wallMs,
      waitShare: wait0 !== undefined && wait1 !== undefined ? (wait1 - wait0) / 1e6 / wallMs : 0,
    };
  }

  it(`lag p99 < ${LAG_P99_MS} ms on a quiet run, and no spin (CPU < ${CPU_CORES} cores)`, async () => {
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const r = await measure();
      runs.push(r);
      expect(r.stats.started).toBe(2_000);
      if (r.waitShare < QUIET) break;
    }
    const shown = JSON.stringify(runs.map((r) => ({ lagP99Ms: r.lagP99Ms, cores: Math.round(r.cores * 1000) / 1000, waitedForCpu: Math.round(r.waitShare * 1000) / 1000 })));
    const quiet = runs.find((r) => r.waitShare < QUIET);
    if (!quiet) {
      // Every run waited for a CPU: only what a busy machine cannot blur is judged.
      console.warn(`LOUD: the machine was too busy to judge the scheduler's lag budget (the thread waited for a CPU in every run): ${shown}`);
      const timers = await measure(new TimerPacer());
      expect(Math.min(...runs.map((r) => r.lagP50Ms))).toBeLessThan(timers.lagP50Ms);
      expect(Math.min(...runs.map((r) => r.cores))).toBeLessThan(CPU_CORES);
      return;
    }
    expect(quiet.lagP99Ms, shown).toBeLessThan(LAG_P99_MS);
    expect(quiet.cores, shown).toBeLessThan(CPU_CORES);
  });

  it('a late scheduler shows in the lag and is judged: an event loop blocked 5 ms every 20 arrivals', async () => {
    const blocking: Iteration = async (index) => {
      if (index % 20 === 0) {
        const until = performance.now() + 5;
        while (performance.now() < until);
      }
      return {};
    };
    const stats = await runOpen({ ratePerSecond: 2_000, maxInFlight: 10_000 }, { durationMs: 500, signal: never }, blocking, () => {});
    const lagP99Ms = stats.lag.getValueAtPercentile(99) / 1000;
    // Every 10 ms the loop stops for 5: a tenth of the arrivals wait ~2.5 ms on average, the worst 5 ms.
    expect(lagP99Ms).toBeGreaterThan(3);
    expect(judgeSchedule(lagP99Ms, 1)).toMatch(/arrivals started late: scheduling lag p99/);
    const late = withScheduleVerdict({ cpuCores: 0.1, eventLoopDelayP99Ms: 0, eventLoopDelayMaxMs: 0, rssMaxBytes: 0, saturated: false }, judgeSchedule(lagP99Ms, 1));
    expect(late.saturated).toBe(true);
    expect(late.saturatedBy).toEqual([expect.stringMatching(/arrivals started late/)]);
  });

  it('the timer pacer (the fallback) is ms-grained: the lag it leaves is what the precise pacer removes', async () => {
    const timers = await measure(new TimerPacer());
    // Timers wake on whole milliseconds: half the arrivals are later than ~0.3 ms.
    expect(timers.stats.lag.getValueAtPercentile(50) / 1000).toBeGreaterThan(0.2);
  });
});

describe('judgeSchedule', () => {
  it('needs both the absolute limit and the share of the latency p99', () => {
    expect(judgeSchedule(1.5, 3)).toBeUndefined(); // under 2 ms
    expect(judgeSchedule(2.5, 3)).toMatch(/lag p99 2\.50 ms \(limit 2\.00 ms/);
    expect(judgeSchedule(5, 2_000)).toBeUndefined(); // 5 ms is 0.25 % of a 2 s list
    expect(judgeSchedule(250, 2_000)).toMatch(/limit 200\.00 ms/);
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

describe('IterationOutcome.endedAt', () => {
  /** An iteration whose response is complete after ~5 ms, then 20 ms of its own work before it settles. */
  const slowUnwind: Iteration = async () => {
    await new Promise((r) => setTimeout(r, 5));
    const endedAt = performance.now();
    await new Promise((r) => setTimeout(r, 20));
    return { endedAt };
  };

  it('ends the latency where the last response was complete, not where the iteration settled (closed and open)', async () => {
    const closed: number[] = [];
    await runClosed(1, { total: 3, signal: never }, slowUnwind, (us) => closed.push(us / 1000));
    const open: number[] = [];
    await runOpen({ ratePerSecond: 100, maxInFlight: 10 }, { durationMs: 30, signal: never }, slowUnwind, (us) => open.push(us / 1000), { pacer: new TimerPacer() });
    for (const ms of [...closed, ...open]) {
      expect(ms).toBeGreaterThanOrEqual(4);
      expect(ms).toBeLessThan(20); // the 20 ms after endedAt are the iteration's own, not the server's
    }
  });

  it('an endedAt outside [start, settled] is ignored: the latency ends when the iteration settles', async () => {
    const latencies: number[] = [];
    const bogus: Iteration = async () => {
      await new Promise((r) => setTimeout(r, 10));
      return { endedAt: performance.now() - 60_000 };
    };
    await runClosed(1, { total: 2, signal: never }, bogus, (us) => latencies.push(us / 1000));
    await runClosed(1, { total: 2, signal: never }, async () => ({ endedAt: performance.now() + 60_000 }), (us) => latencies.push(us / 1000));
    expect(latencies[0]).toBeGreaterThanOrEqual(9);
    expect(latencies[1]).toBeGreaterThanOrEqual(9);
    expect(latencies[2]).toBeLessThan(1000);
    expect(latencies[3]).toBeLessThan(1000);
  });
});
