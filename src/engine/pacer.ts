/**
 * Sub-millisecond sleeps for the open model, without spinning.
 *
 * Node's timers are millisecond-grained (libuv keeps loop time in ms and
 * epoll_wait takes ms), so an arrival due at 10.3 ms starts at 11 ms or
 * later: measured lag p50 0.7 ms, p99 1.1-1.5 ms at 200-2,000/s. A
 * setImmediate spin is precise but keeps a core busy. Here a small worker
 * thread sleeps in `Atomics.wait`, whose timeout is fractional (a futex with
 * a nanosecond deadline), and wakes the main thread when the arrival is due;
 * the main thread's event loop is woken through libuv's async handle (an
 * eventfd), which takes tens of µs. The wake is asked for a little ahead of
 * time (the recent wake-up delay, at most `MAX_AHEAD_MS`), and the main thread
 * busy-waits only what remains of that head start (µs, not a spin between
 * arrivals).
 *
 * The worker's source is a string (`eval: true`): it needs nothing but
 * node:worker_threads and runs the same from dist/ and from the TS sources.
 */
import { Worker } from 'node:worker_threads';

/** The most the wake is asked ahead of the due time (and so the longest busy-wait), ms. */
export const MAX_AHEAD_MS = 0.2;

/** The head start is at most this share of the gap between arrivals. */
const SPIN_SHARE = 0.05;

/** Int32 slots of the shared control block. */
const GEN = 0; // bumped by the main thread for every new target (or -1: stop)
const WOKEN = 1; // the worker's answer: the generation it woke for
/** Float64 slot (byte offset 16): the target, in process.hrtime ms. */
const TARGET_OFFSET = 16;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData.sab, 0, 4);
const target = new Float64Array(workerData.sab, ${TARGET_OFFSET}, 1);
const hr = () => Number(process.hrtime.bigint()) / 1e6;
let gen = 0;
for (;;) {
  // Idle: wait for a new target (bounded, so a stop is never missed).
  Atomics.wait(ctl, ${GEN}, gen, 1000);
  const g = Atomics.load(ctl, ${GEN});
  if (g < 0) break;
  if (g === gen) continue;
  gen = g;
  for (;;) {
    const left = target[0] - hr();
    if (left <= 0) break;
    // Returns early when the main thread sets a new target (or stops).
    if (Atomics.wait(ctl, ${GEN}, gen, left) !== 'timed-out') break;
  }
  if (Atomics.load(ctl, ${GEN}) !== gen) continue;
  Atomics.store(ctl, ${WOKEN}, gen);
  Atomics.notify(ctl, ${WOKEN});
}
`;

/** ES2024's Atomics.waitAsync (Node ≥ 16; not in the ES2023 lib this project compiles against). */
const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number, timeoutMs?: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;

/** process.hrtime in ms: the one clock both threads share (performance.now() has a per-thread origin). */
const hrMs = () => Number(process.hrtime.bigint()) / 1e6;

export interface Pacer {
  /** Resolves at `dueMs` (performance.now() time) or a few µs after; never before. `gapMs`: time between arrivals. */
  sleepUntil(dueMs: number, gapMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Timers only: ms-grained (the fallback when a worker cannot start). */
export class TimerPacer implements Pacer {
  sleepUntil(dueMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wait = () => {
        const left = dueMs - performance.now();
        if (left <= 0) resolve();
        else setTimeout(wait, Math.max(0, left - 0.5));
      };
      wait();
    });
  }

  async close(): Promise<void> {}
}

/** The worker-thread pacer described above. */
export class PrecisePacer implements Pacer {
  private readonly ctl: Int32Array;
  private readonly target: Float64Array;
  private gen = 0;
  /** hrtime ms minus performance.now(): constant (both are uv_hrtime). */
  private readonly offset: number;
  /** Recent wake-up delay (time from the asked-for instant to the main thread running), ms. */
  private wakeDelayMs = 0.05;
  /** Busy-wait time spent by the main thread, ms (for the CPU budget tests). */
  spunMs = 0;
  /**
   * A pending Atomics.waitAsync does not keep Node's event loop alive (the
   * worker is unref'd so it never holds a process open): this timer does,
   * while the pacer is in use.
   */
  private readonly keepAlive = setInterval(() => {}, 2 ** 30);

  private constructor(private readonly worker: Worker, sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, 4);
    this.target = new Float64Array(sab, TARGET_OFFSET, 1);
    this.offset = hrMs() - performance.now();
  }

  /** Starts the worker thread; resolves when it runs. */
  static async start(): Promise<PrecisePacer> {
    const sab = new SharedArrayBuffer(32);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { sab },
      // It holds no data: a small heap keeps its footprint to the isolate itself.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 },
      stdout: false,
      stderr: false,
    });
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    worker.unref();
    return new PrecisePacer(worker, sab);
  }

  /**
   * `gapMs`: the time between arrivals; the head start is at most 5 % of it,
   * which bounds the busy-wait to 5 % of a core at any rate.
   */
  async sleepUntil(dueMs: number, gapMs = Infinity): Promise<void> {
    const ahead = Math.min(MAX_AHEAD_MS, this.wakeDelayMs, gapMs * SPIN_SHARE);
    const askAt = dueMs - ahead;
    if (askAt > performance.now()) {
      const gen = ++this.gen;
      this.target[0] = askAt + this.offset;
      // The timeout only guards against a worker that died (it is ms-grained, like any timer).
      const wait = waitAsync(this.ctl, WOKEN, Atomics.load(this.ctl, WOKEN), askAt - performance.now() + 100);
      Atomics.store(this.ctl, GEN, gen);
      Atomics.notify(this.ctl, GEN);
      if (wait.async) await wait.value;
      // The delay this wake-up took, smoothed (EWMA 1/8): how far ahead to ask next time.
      const late = performance.now() - askAt;
      // A preempted thread's wake (ms on a busy machine) is clamped: it says nothing about the next one.
      this.wakeDelayMs += (Math.min(MAX_AHEAD_MS, Math.max(0, late)) - this.wakeDelayMs) / 8;
    }
    // What is left of the head start: microseconds, spent here rather than late.
    const left = dueMs - performance.now();
    if (left > 0) {
      const t = performance.now();
      while (performance.now() < dueMs);
      this.spunMs += performance.now() - t;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.keepAlive);
    Atomics.store(this.ctl, GEN, -1);
    Atomics.notify(this.ctl, GEN);
    await this.worker.terminate();
  }
}

/** A PrecisePacer, or timers when a worker thread cannot start here. */
export async function startPacer(): Promise<Pacer> {
  try {
    return await PrecisePacer.start();
  } catch {
    return new TimerPacer();
  }
}
