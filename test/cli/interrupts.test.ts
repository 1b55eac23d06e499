/**
 * The three-press Ctrl-C of `run` and `distribute`: stop, skip cleanup, exit.
 */
import { describe, expect, it } from 'vitest';
import { Interrupts } from '../../src/cli/interrupts.js';
import { Output } from '../../src/cli/output.js';

function capture() {
  let err = '';
  const sink = { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream;
  return { out: new Output(sink, sink), text: () => err };
}

describe('Interrupts', () => {
  it('stops on the first press, skips cleanup on the second, exits 130 on the third', () => {
    const { out, text } = capture();
    const exits: number[] = [];
    let left = 'nothing yet';
    const interrupts = new Interrupts(out, { stopping: 'stopping; press again to skip cleanup', skipping: () => ['skipping cleanup; remove with:', `  ${left}`] }, (code) => exits.push(code));
    expect(interrupts.interrupted).toBe(false);

    interrupts.press('SIGINT');
    expect(interrupts.stop.signal.aborted).toBe(true);
    expect(interrupts.skipCleanup.signal.aborted).toBe(false);
    expect(text()).toBe('\nSIGINT: stopping; press again to skip cleanup\n');

    left = 'kubectl delete ns x';
    interrupts.press('SIGTERM');
    expect(interrupts.skipCleanup.signal.aborted).toBe(true);
    // The words are read at the press: they name what exists by then.
    expect(text()).toContain('SIGTERM again: skipping cleanup; remove with:\n  kubectl delete ns x\n');
    expect(exits).toEqual([]);

    interrupts.press('SIGINT');
    expect(text()).toContain('SIGINT a third time: exiting now\n');
    expect(exits).toEqual([130]);
  });

  it('reads the first words at the press: a run still building its server says nothing will be written', () => {
    const { out, text } = capture();
    let ready = false;
    const words = { stopping: () => (ready ? 'stopping; partial results will be written' : 'stopping before the run started: a server build under way is stopped, nothing is written'), skipping: () => [] };
    new Interrupts(out, words, () => {}).press('SIGINT');
    expect(text()).toBe('\nSIGINT: stopping before the run started: a server build under way is stopped, nothing is written\n');
    ready = true;
    const later = capture();
    new Interrupts(later.out, words, () => {}).press('SIGINT');
    expect(later.text()).toBe('\nSIGINT: stopping; partial results will be written\n');
  });

  it('listens for SIGINT and SIGTERM only between install and dispose', () => {
    const { out } = capture();
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const interrupts = new Interrupts(out, { stopping: 's', skipping: () => [] }).install();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([before[0]! + 1, before[1]! + 1]);
    interrupts.dispose();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});
