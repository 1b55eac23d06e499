/**
 * Progress that repeats: on a terminal one line updated in place (carriage
 * return and clear line, no newline), elsewhere (CI, pipes) ordinary lines,
 * at most one per interval and key.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/output.js';

/** A stderr that records what is written; `tty` makes it look like a terminal. */
function stream(tty: boolean): Writable & { text: string; isTTY?: boolean; columns?: number } {
  const s = new Writable({
    write(chunk: Buffer, _enc, cb) {
      s.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string; isTTY?: boolean; columns?: number };
  s.text = '';
  if (tty) Object.assign(s, { isTTY: true, columns: 80 });
  return s;
}

const strip = (text: string) => text.replace(/\[ *\d+\.\ds\] /g, '');

describe('Output.periodic', () => {
  it('on a terminal: one line rewritten in place, cleared before the next ordinary line', () => {
    const err = stream(true);
    const out = new Output(stream(false), err);
    expect(out.live).toBe(true);
    out.periodic('0/create', 'create: 0/100 done', 0, 0);
    out.periodic('0/create', 'create: 40/100 done', 0, 10);
    out.periodic('0/create', 'create: 90/100 done', 0, 20);
    out.progress('step 0 ▸ list');
    expect(strip(err.text)).toBe('\r\x1b[2Kcreate: 0/100 done\r\x1b[2Kcreate: 40/100 done\r\x1b[2Kcreate: 90/100 done\r\x1b[2Kstep 0 ▸ list\n');
    // Only the last progress line ends in a newline: nothing scrolled.
    expect(err.text.match(/\n/g)).toHaveLength(1);
  });

  it('cuts a status line to the terminal width', () => {
    const err = stream(true);
    new Output(stream(false), err).periodic('k', 'x'.repeat(200), 0, 0);
    const line = err.text.slice('\r\x1b[2K'.length);
    expect(line.length).toBe(80);
    expect(line.endsWith('…')).toBe(true);
  });

  it('elsewhere: whole lines, at most one per interval for each key', () => {
    const err = stream(false);
    const out = new Output(stream(false), err);
    expect(out.live).toBe(false);
    out.periodic('install', 'install: 10 CRDs', 15_000, 0);
    out.periodic('install', 'install: 20 CRDs', 15_000, 5_000);
    out.periodic('create', 'create: 0/100 done', 0, 6_000);
    out.periodic('create', 'create: 50/100 done', 0, 8_000);
    out.periodic('install', 'install: 40 CRDs', 15_000, 15_000);
    expect(strip(err.text)).toBe('install: 10 CRDs\ncreate: 0/100 done\ncreate: 50/100 done\ninstall: 40 CRDs\n');
    expect(err.text).not.toContain('\r');
  });

  it('is silent when quiet', () => {
    const err = stream(true);
    new Output(stream(false), err, true).periodic('k', 'anything', 0, 0);
    expect(err.text).toBe('');
  });
});
