/**
 * Ctrl-C (and SIGTERM) in three presses, the same for `run` and `distribute`:
 * the first stops the work (what was measured is kept, cleanup still runs),
 * the second skips cleanup (the command says what is left and how to remove
 * it), the third exits at once.
 */
import { ExitCode } from '../types/errors.js';
import type { Output } from './output.js';

export interface InterruptWords {
  /** After `<SIGNAL>: ` on the first press, e.g. `stopping; … (press Ctrl-C again to skip cleanup)`; read when pressed. */
  stopping: string | (() => string);
  /** On the second press: the first line follows `<SIGNAL> again: `, the rest stand alone. Read when pressed, so it can name what exists by then. */
  skipping: () => string[];
  /** Said after `<SIGNAL> a third time: exiting now`, e.g. what the exit hook removes. */
  exiting?: () => string;
}

export class Interrupts {
  /** Aborted by the first press: stop the work. */
  readonly stop = new AbortController();
  /** Aborted by the second press: skip cleanup. */
  readonly skipCleanup = new AbortController();
  private presses = 0;
  private readonly listener = (signal: NodeJS.Signals) => this.press(signal);

  constructor(
    private readonly out: Output,
    private readonly words: InterruptWords,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  /** Listens for SIGINT and SIGTERM until dispose(). */
  install(): this {
    process.on('SIGINT', this.listener);
    process.on('SIGTERM', this.listener);
    return this;
  }

  dispose(): void {
    process.off('SIGINT', this.listener);
    process.off('SIGTERM', this.listener);
  }

  get interrupted(): boolean {
    return this.stop.signal.aborted;
  }

  /** One press of Ctrl-C (or one SIGTERM). */
  press(signal: NodeJS.Signals): void {
    this.presses++;
    if (this.presses === 1) {
      this.out.error(`\n${signal}: ${typeof this.words.stopping === 'string' ? this.words.stopping : this.words.stopping()}`);
      this.stop.abort(signal);
    } else if (this.presses === 2) {
      const [first = 'skipping cleanup', ...rest] = this.words.skipping();
      this.out.error(`${signal} again: ${first}`);
      for (const line of rest) this.out.error(line);
      this.skipCleanup.abort(signal);
    } else {
      this.out.error(`${signal} a third time: exiting now${this.words.exiting?.() ?? ''}`);
      this.exit(ExitCode.interrupted);
    }
  }
}
