/**
 * Commands are loaded lazily: `run` on the embedded local control plane reads
 * its own credentials file and must never load @kubernetes/client-node (about
 * 90 MB of harness memory). A resolve hook (module.registerHooks, preloaded
 * with --import) records every module the child process resolves; the same
 * hook sees the library load for a kubeconfig target, so it can see it at all.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const SCENARIO = `version: 1
name: lazy-load
seed: 1
generate:
  crds: { count: 2, groups: 1 }
  objects: { perCRD: 1, sizeBytes: 128, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
`;

const HOOK = `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    appendFileSync(process.env.ASA_TEST_MODULE_LOG, r.url + '\\n');
    return r;
  },
});
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'asa-lazy-'));
  await writeFile(path.join(dir, 'scenario.yaml'), SCENARIO);
  await writeFile(path.join(dir, 'hook.mjs'), HOOK);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modulesOf(name: string, args: string[]): Promise<string[]> {
  const log = path.join(dir, `${name}.log`);
  const r = await runCli(args, { ASA_TEST_MODULE_LOG: log, NODE_OPTIONS: `--import ${path.join(dir, 'hook.mjs')}` });
  expect(r.code, r.stderr).toBe(0);
  return (await readFile(log, 'utf8')).split('\n');
}

const clientNode = (urls: string[]) => urls.filter((u) => u.includes('/node_modules/@kubernetes/client-node/'));

describe('lazy command loading', () => {
  it('run on the embedded local control plane does not load @kubernetes/client-node, nor distribute', { timeout: 300_000 }, async () => {
    const urls = await modulesOf('local', ['run', path.join(dir, 'scenario.yaml'), '--out', path.join(dir, 'local')]);
    expect(urls.some((u) => u.endsWith('/dist/cli/run.js'))).toBe(true);
    expect(urls.some((u) => u.endsWith('/dist/engine/run.js'))).toBe(true);
    expect(clientNode(urls)).toEqual([]);
    expect(urls.filter((u) => /\/dist\/(cli\/distribute|distribute\/)/.test(u))).toEqual([]);
  });

  it('run against a kubeconfig loads it (the hook sees it when it happens)', { timeout: 300_000 }, async () => {
    const urls = await modulesOf('kubeconfig', ['run', path.join(dir, 'scenario.yaml'), '--kubeconfig', inject('kubeconfig'), '--out', path.join(dir, 'remote')]);
    expect(clientNode(urls).length).toBeGreaterThan(0);
  });

  it('--version loads no command at all', async () => {
    const urls = await modulesOf('version', ['--version']);
    expect(urls.filter((u) => /\/dist\/(cli\/(run|distribute|server)|engine)\b/.test(u))).toEqual([]);
  });
});
