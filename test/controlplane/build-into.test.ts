/**
 * A build writes its cache path only when it finished: into a temporary path
 * beside it, renamed on success, removed on failure or Ctrl-C.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildInto, go } from '../../src/controlplane/go.js';
import { ControlPlaneError, ExitCode, InterruptedError } from '../../src/types/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'asa-build-into-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('buildInto', () => {
  it('renames the finished build into place, leaving nothing else', async () => {
    const output = path.join(dir, 'bin', 'etcd-v3.6.16', 'etcd');
    await buildInto(output, 'etcd v3.6.16', async (tmp) => {
      await writeFile(tmp, 'binary');
      return tmp;
    });
    expect(await readFile(output, 'utf8')).toBe('binary');
    expect(readdirSync(path.dirname(output))).toEqual(['etcd']);
  });

  it('takes a file inside the temporary folder (go install), and removes the folder', async () => {
    const output = path.join(dir, 'bin', 'kine-v0.17.5', 'kine');
    await buildInto(output, 'kine', async (gobin) => {
      await mkdir(gobin, { recursive: true });
      await writeFile(path.join(gobin, 'kine'), 'kine');
      await writeFile(path.join(gobin, 'other'), 'x');
      return path.join(gobin, 'kine');
    });
    expect(readdirSync(path.dirname(output))).toEqual(['kine']);
  });

  it('stopped half-way: no file at the cache path or beside it, and the error says so (exit 130)', async () => {
    const output = path.join(dir, 'bin', 'kube-apiserver-v1.37.2', 'kube-apiserver');
    const err = await buildInto(output, 'kube-apiserver v1.37.2', async (tmp) => {
      await writeFile(tmp, 'half a binary');
      throw new InterruptedError('go build was stopped after 7 s');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(ExitCode.interrupted);
    expect((err as Error).message).toBe(`the build of kube-apiserver v1.37.2 was stopped; nothing was written to ${path.dirname(output)}`);
    expect(existsSync(path.join(dir, 'bin', 'kube-apiserver-v1.37.2'))).toBe(false);
  });

  it('failed: the build error as it was, and no half-written file', async () => {
    const output = path.join(dir, 'bin', 'x', 'x');
    await mkdir(path.dirname(output), { recursive: true });
    await writeFile(path.join(path.dirname(output), 'build.json'), '{}');
    await expect(
      buildInto(output, 'x', async (tmp) => {
        await writeFile(tmp, 'half');
        throw new ControlPlaneError('go build failed');
      }),
    ).rejects.toThrow('go build failed');
    // The folder held something else: it stays, without the temporary file.
    expect(readdirSync(path.dirname(output))).toEqual(['build.json']);
  });
});

describe('go with a signal', () => {
  it('does not start when already interrupted', async () => {
    const ac = new AbortController();
    ac.abort('SIGINT');
    await expect(go(['version'], dir, () => {}, { signal: ac.signal })).rejects.toBeInstanceOf(InterruptedError);
  });
});
