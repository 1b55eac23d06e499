/**
 * What a phase is waiting for, for its progress events: how many iterations
 * are in flight and how long the oldest has waited (a phase that reads
 * "0/100 done" for two seconds is waiting for its first response), and, per
 * stage an operation names, how many iterations are in it ("waiting for
 * Established"). Counting only: nothing here is measured into a result.
 */

export class InFlight {
  /** Start time (performance.now()) by iteration index. */
  private readonly started = new Map<number, number>();

  begin(index: number, now = performance.now()): void {
    this.started.set(index, now);
  }

  end(index: number): void {
    this.started.delete(index);
  }

  get count(): number {
    return this.started.size;
  }

  /** How long the oldest iteration in flight has waited, ms; undefined when none is. */
  oldestMs(now = performance.now()): number | undefined {
    let oldest = Infinity;
    for (const at of this.started.values()) if (at < oldest) oldest = at;
    return oldest === Infinity ? undefined : Math.max(0, now - oldest);
  }
}

/** Iterations per named stage (`waiting for Established`), while they are in it. */
export class Stages {
  private readonly counts = new Map<string, number>();

  /** Counts one iteration in `stage` while `fn` runs. */
  async during<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    this.counts.set(stage, (this.counts.get(stage) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      this.counts.set(stage, this.counts.get(stage)! - 1);
    }
  }

  /** Stages with an iteration in them, e.g. `{ 'waiting for Established': 3 }`; undefined when none. */
  snapshot(): Record<string, number> | undefined {
    const busy = [...this.counts].filter(([, n]) => n > 0);
    return busy.length > 0 ? Object.fromEntries(busy) : undefined;
  }
}
