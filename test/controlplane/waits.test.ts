/**
 * Long waits of the control plane say what they wait for: a server getting
 * ready hears how long it has waited every 5 s (the CLI shows it from 10 s on,
 * in place on a terminal), and the output routes such repeating reports.
 */
import type { ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Output } from '../../src/cli/output.js';
import { HEARTBEAT_MS, waited } from '../../src/controlplane/go.js';
import { waitFor } from '../../src/controlplane/process.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('waitFor', () => {
  it('reports every HEARTBEAT_MS while it waits, and stops when the check holds', async () => {
    vi.useFakeTimers();
    const child = { exitCode: null, signalCode: null, spawnfile: 'kube-apiserver' } as unknown as ChildProcess;
    const t0 = Date.now();
    const beats: number[] = [];
    const done = waitFor('kube-apiserver /readyz', '/nonexistent.log', child, 60_000, async () => Date.now() - t0 >= 12_000, (ms) => beats.push(ms));
    await vi.advanceTimersByTimeAsync(13_000);
    await done;
    expect(HEARTBEAT_MS).toBe(5_000);
    expect(beats).toEqual([5_000, 10_000]);
  });

  it('says nothing when the check holds at once', async () => {
    const child = { exitCode: null, signalCode: null, spawnfile: 'etcd' } as unknown as ChildProcess;
    const beats: number[] = [];
    await waitFor('etcd', '/nonexistent.log', child, 1_000, async () => true, (ms) => beats.push(ms));
    expect(beats).toEqual([]);
  });
});

describe('Output.reporter', () => {
  it('repeating reports go in place on a terminal; the others are lines', () => {
    let text = '';
    const err = Object.assign(
      new Writable({
        write(chunk: Buffer, _e, cb) {
          text += chunk.toString();
          cb();
        },
      }),
      { isTTY: true, columns: 200 },
    );
    const out = new Output(new Writable({ write: (_c, _e, cb) => cb() }), err);
    out.reporter('compiling kube-apiserver v1.37.2 (first time only; minutes on 2 cores)');
    out.reporter(`compiling kube-apiserver v1.37.2: ${waited(5_000)} so far (go build)`, 'go');
    out.reporter(`compiling kube-apiserver v1.37.2: ${waited(80_000)} so far (go build)`, 'go');
    out.reporter('built kube-apiserver v1.37.2 in 95s');
    const shown = text.replace(/\[ *\d+\.\ds\] /g, '');
    expect(shown).toBe(
      'compiling kube-apiserver v1.37.2 (first time only; minutes on 2 cores)\n' +
        '\r\x1b[2Kcompiling kube-apiserver v1.37.2: 5 s so far (go build)' +
        '\r\x1b[2Kcompiling kube-apiserver v1.37.2: 1 min 20 s so far (go build)' +
        '\r\x1b[2Kbuilt kube-apiserver v1.37.2 in 95s\n',
    );
  });
});
