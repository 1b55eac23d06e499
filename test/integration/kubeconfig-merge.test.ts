/**
 * `--context` without `--kubeconfig` reads every entry of $KUBECONFIG, merged
 * as kubectl merges them: the context may live in any file; the first file to
 * define a name wins; entries that do not exist are skipped. Against the real
 * control plane: its context is only in the second (existing) file.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, runCli } from '../helpers/cli.js';

const TWO_CONTEXTS = path.join(ROOT, 'test/fixtures/kubeconfig/two-contexts.yaml');
let dir: string;
let context: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'asa-kubeconfigs-'));
  context = (parse(await readFile(inject('kubeconfig'), 'utf8')) as { 'current-context': string })['current-context'];
  // A later file that defines the same context name elsewhere: it must lose.
  await writeFile(
    path.join(dir, 'shadow.yaml'),
    `apiVersion: v1
kind: Config
clusters: [{ name: shadow, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: shadow, user: { token: shadow } }]
contexts: [{ name: ${JSON.stringify(context)}, context: { cluster: shadow, user: shadow } }]
current-context: ${JSON.stringify(context)}
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('KUBECONFIG with several entries', () => {
  it('finds --context in the second file, first definition wins, missing entries skipped', async () => {
    const KUBECONFIG = [path.join(dir, 'missing.yaml'), TWO_CONTEXTS, inject('kubeconfig'), path.join(dir, 'shadow.yaml')].join(path.delimiter);
    const r = await runCli(['cleanup', '--all', '--context', context], { KUBECONFIG });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/labelled objects remain/);
  });

  it('a context only a later file defines is used (kind-dev, from the second file)', async () => {
    // two-contexts.yaml's current context is kind-dev on https://127.0.0.1:1: nothing listens there.
    const first = await runCli(['cleanup', '--all', '--context', 'kind-dev'], { KUBECONFIG: [inject('kubeconfig'), TWO_CONTEXTS].join(path.delimiter) });
    expect(first.code).toBe(3);
    expect(first.stderr).toContain('cannot connect to https://127.0.0.1:1');
  });
});
