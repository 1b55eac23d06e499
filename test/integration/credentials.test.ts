import { runCli } from '../helpers/cli.js';
/**
 * Credentials never end up in what asa-bench writes or prints: a real run of
 * scenarios/smoke.yaml on the shared control plane (through its kubeconfig,
 * which carries a static admin token and the CA), then every file of the
 * results directory, the run's stdout and stderr, and every `report` format
 * are searched for the token (and the CA, which has no business there either).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');


async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

interface Kubeconfig {
  clusters: { cluster: { 'certificate-authority-data'?: string } }[];
  users: { user: { token?: string } }[];
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('credentials stay out of results and output', () => {
  it('no file of a run, nor its stdout/stderr, nor any report format contains the token or the CA', async () => {
    const kubeconfig = inject('kubeconfig');
    const kc = parse(await readFile(kubeconfig, 'utf8')) as Kubeconfig;
    const token = kc.users[0]?.user.token;
    const caData = kc.clusters[0]?.cluster['certificate-authority-data'];
    expect(token, 'the shared control plane authenticates with a static token').toMatch(/^\S{16,}$/);
    expect(caData).toMatch(/^\S{100,}$/);
    // The CA as PEM: its base64 body lines, one of which would show up in any copy of the certificate.
    const caPem = Buffer.from(caData!, 'base64').toString('utf8');
    const caLine = caPem.split('\n').filter((l) => l.length >= 60 && !l.startsWith('-----'))[2]!;
    expect(caLine).toBeDefined();
    const secrets: [string, string][] = [
      ['token', token!],
      ['token (base64)', Buffer.from(token!).toString('base64')],
      ['CA data', caData!],
      ['CA PEM line', caLine],
    ];
    const expectClean = (what: string, text: string) => {
      for (const [name, secret] of secrets) expect(text.includes(secret), `${what} contains the ${name}`).toBe(false);
    };

    const out = await mkdtemp(path.join(os.tmpdir(), 'asa-credentials-'));
    dirs.push(out);
    const run = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kubeconfig, '--out', out]);
    expect(run.stderr).not.toMatch(/internal error/);
    expect(run.code, run.stderr).toBe(0);
    expectClean('run stdout', run.stdout);
    expectClean('run stderr', run.stderr);

    const files = await filesUnder(out);
    expect(files.map((f) => path.basename(f)).sort()).toEqual(expect.arrayContaining(['run.json', 'summary.json', 'report.md', 'report.html', 'summary.csv']));
    for (const file of files) expectClean(path.relative(out, file), await readFile(file, 'utf8'));
    // The run records where it ran (so the token's absence is not for want of a target section).
    const runJson = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as { target: { server: string; context: string } };
    expect(runJson.target.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    for (const format of ['json', 'md', 'html', 'csv', 'table']) {
      const report = await runCli(['report', out, '--format', format]);
      expect(report.code, `${format}: ${report.stderr}`).toBe(0);
      expect(report.stdout.length, format).toBeGreaterThan(100);
      expectClean(`report --format ${format} stdout`, report.stdout);
      expectClean(`report --format ${format} stderr`, report.stderr);
    }
  });

  it('the --json summary of a run does not contain the token either', async () => {
    const kubeconfig = inject('kubeconfig');
    const kc = parse(await readFile(kubeconfig, 'utf8')) as Kubeconfig;
    const token = kc.users[0]!.user.token!;
    const out = await mkdtemp(path.join(os.tmpdir(), 'asa-credentials-'));
    dirs.push(out);
    const scenario = path.join(ROOT, 'test/fixtures/scenarios/valid/minimal.yaml');
    const run = await runCli(['run', scenario, '--kubeconfig', kubeconfig, '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as { run: { target: { context: string } } };
    expect(json.run.target.context).toBeTruthy();
    expect(run.stdout).not.toContain(token);
    expect(run.stderr).not.toContain(token);
  });
});
