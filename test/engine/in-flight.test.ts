import { describe, expect, it } from 'vitest';
import { InFlight, Stages } from '../../src/engine/in-flight.js';
import { mergeProgress } from '../../src/engine/thread-merge.js';

describe('InFlight', () => {
  it('counts iterations started and not finished, and the age of the oldest', () => {
    const f = new InFlight();
    expect(f.count).toBe(0);
    expect(f.oldestMs(100)).toBeUndefined();
    f.begin(0, 100);
    f.begin(1, 300);
    f.begin(2, 250);
    expect(f.count).toBe(3);
    expect(f.oldestMs(2_100)).toBe(2_000);
    f.end(0);
    expect(f.oldestMs(2_100)).toBe(1_850);
    f.end(2);
    f.end(1);
    f.end(7); // a dropped arrival never began
    expect(f.count).toBe(0);
    expect(f.oldestMs(2_100)).toBeUndefined();
  });
});

describe('Stages', () => {
  it('counts iterations while they wait in a stage, also when the wait fails', async () => {
    const s = new Stages();
    let release!: () => void;
    const held = s.during('waiting for Established', () => new Promise<void>((r) => (release = r)));
    const failing = s.during('waiting for Established', () => Promise.reject(new Error('timeout')));
    expect(s.snapshot()).toEqual({ 'waiting for Established': 2 });
    await expect(failing).rejects.toThrow('timeout');
    expect(s.snapshot()).toEqual({ 'waiting for Established': 1 });
    release();
    await held;
    expect(s.snapshot()).toBeUndefined();
  });
});

describe('mergeProgress (--threads)', () => {
  it('adds up the threads, keeps the longest wait and adds stages by name', () => {
    const step = { index: 0, level: 3, crds: 3 } as never;
    const base = { type: 'phase-progress' as const, step, phase: 'install', errors: 0 };
    const merged = mergeProgress([
      { ...base, done: 1, total: 2, inFlight: 1, oldestPendingMs: 900, waiting: { 'waiting for Established': 1 } },
      { ...base, done: 0, total: 2, errors: 1, inFlight: 2, oldestPendingMs: 2_100, waiting: { 'waiting for Established': 1, 'waiting until servable': 1 } },
      { ...base, done: 2, total: 2, inFlight: 0 },
    ]);
    expect(merged).toMatchObject({ done: 3, total: 6, errors: 1, inFlight: 3, oldestPendingMs: 2_100, waiting: { 'waiting for Established': 2, 'waiting until servable': 1 } });
    const idle = mergeProgress([{ ...base, done: 2, inFlight: 0 }]);
    expect(idle.oldestPendingMs).toBeUndefined();
    expect(idle.waiting).toBeUndefined();
    expect(idle.total).toBeUndefined();
  });
});
