import { runCli as runHelper } from '../helpers/cli.js';
/**
 * The write-safety guard and the absurd-value ceilings, through the built CLI
 * (bin/asa-bench.js → dist). A kubeconfig that points anywhere but loopback
 * is refused before any DNS lookup, connection or credential plugin; --yes or
 * ASA_BENCH_ALLOW_CONTEXTS lets the command through to the (failing) lookup.
 *
 * Every child runs with a preload (--require) that records each dns.lookup
 * and socket connect it makes, answers lookups of anything but `localhost`
 * with ENOTFOUND (no DNS query leaves) and fails connects to non-loopback
 * addresses: the tests can
 * prove "before any connection", and nothing here leaves the machine even if
 * the guard regressed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/kubeconfig');
const PROD = path.join(FIXTURES, 'prod-token.yaml');
const TWO_CONTEXTS = path.join(FIXTURES, 'two-contexts.yaml');
const PROD_TOKEN = 'fixture-prod-token-must-never-be-printed';

const NET_HOOK = String.raw`'use strict';
const fs = require('node:fs');
const net = require('node:net');
const dns = require('node:dns');
const file = process.env.ASA_TEST_NET_LOG;
const log = (entry) => fs.appendFileSync(file, JSON.stringify(entry) + '\n');
const loopback = (h) => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let o = args[0];
  if (Array.isArray(o)) o = o[0];
  const host = typeof o === 'object' && o !== null ? (o.host ?? o.path ?? 'localhost') : String(o);
  log({ connect: String(host), port: typeof o === 'object' && o !== null ? o.port : undefined });
  // Names go on to dns.lookup below (which fails all but localhost); addresses must be loopback.
  if (typeof o === 'object' && o !== null && o.path === undefined && net.isIP(String(host)) !== 0 && !loopback(String(host))) {
    const err = Object.assign(new Error('connect to ' + host + ' blocked by the test'), { code: 'EHOSTUNREACH' });
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  log({ lookup: String(host) });
  if (String(host) !== 'localhost') {
    const cb = rest[rest.length - 1];
    const err = Object.assign(new Error('getaddrinfo ENOTFOUND ' + host), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname: host });
    process.nextTick(cb, err);
    return {};
  }
  return lookup.call(this, host, ...rest);
};
`;

const EXEC_PLUGIN = `import fs from 'node:fs';
fs.writeFileSync(process.env.ASA_TEST_PLUGIN_MARKER, 'ran');
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-plugin-token' } }));
`;

let tmp: string;
let hookFile: string;
let counter = 0;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the child looked up or connected to, from the preload's log. */
  net: { lookup?: string; connect?: string; port?: number | string }[];
}

async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const netLog = path.join(tmp, `net-${++counter}.log`);
  const hooked = `${process.env.NODE_OPTIONS ?? ''} --require ${hookFile}`.trim();
  const { code, stdout, stderr } = await runHelper(args, { ASA_BENCH_ALLOW_CONTEXTS: undefined, KUBECONFIG: undefined, ...env, NODE_OPTIONS: hooked, ASA_TEST_NET_LOG: netLog });
  const text = existsSync(netLog) ? await readFile(netLog, 'utf8') : '';
  const net = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as CliResult['net'][number]);
  return { code, stdout, stderr, net };
}

/** One message line and one hint line, no stack trace, no secret. */
function expectOneClearError(r: CliResult): void {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.length, r.stderr).toBeLessThanOrEqual(2);
  expect(lines[0]).toMatch(/^asa-bench: /);
  if (lines[1] !== undefined) expect(lines[1]).toMatch(/^hint: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stderr + r.stdout).not.toContain(PROD_TOKEN);
}

async function writeTemp(name: string, text: string): Promise<string> {
  const file = path.join(tmp, name);
  await writeFile(file, text);
  return file;
}

function kubeconfigFor(server: string, user: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: target
    cluster:
      server: ${server}
contexts:
  - name: target-ctx
    context: { cluster: target, user: u }
current-context: target-ctx
users:
  - name: u
    user:
${user}
`;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-safety-'));
  hookFile = path.join(tmp, 'net-hook.cjs');
  await writeFile(hookFile, NET_HOOK);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the write-safety guard', () => {
  it('refuses a non-loopback target with exit 3 before any lookup or connection', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', PROD]);
    expect(r.code, r.stderr).toBe(3);
    expectOneClearError(r);
    expect(r.stderr).toContain('refusing');
    expect(r.stderr).toContain('https://prod.invalid:6443');
    expect(r.stderr).toContain('context "prod-admin"');
    expect(r.stderr).toMatch(/hint: .*--yes.*ASA_BENCH_ALLOW_CONTEXTS=prod-admin/);
    // A connection attempt would have surfaced as "cannot resolve the host" (see the --yes case).
    expect(r.stderr).not.toContain('cannot resolve');
    expect(r.net).toEqual([]);
    expect(r.stdout).toBe('');
  });

  it('with --yes gets past the guard and fails at the DNS lookup (exit 3 "cannot resolve the host")', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', PROD, '--yes']);
    expect(r.code, r.stderr).toBe(3);
    expectOneClearError(r);
    expect(r.stderr).toContain('cannot resolve the host of https://prod.invalid:6443');
    expect(r.stderr).not.toContain('refusing');
    // The preload saw the attempt: proof that the refusal above really was before it.
    expect(r.net).toContainEqual({ lookup: 'prod.invalid' });
  });

  it('ASA_BENCH_ALLOW_CONTEXTS naming the context lets it through, like --yes', async () => {
    for (const allowed of ['prod-admin', 'kind-dev, prod-admin ,other']) {
      const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', PROD], { ASA_BENCH_ALLOW_CONTEXTS: allowed });
      expect(r.code, r.stderr).toBe(3);
      expectOneClearError(r);
      expect(r.stderr).toContain('cannot resolve the host of https://prod.invalid:6443');
      expect(r.net).toContainEqual({ lookup: 'prod.invalid' });
    }
  });

  it('ASA_BENCH_ALLOW_CONTEXTS naming other contexts (or a prefix of this one) does not', async () => {
    for (const allowed of ['kind-dev', 'prod', 'prod-admin-2', ',', '']) {
      const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', PROD], { ASA_BENCH_ALLOW_CONTEXTS: allowed });
      expect(r.code, `${allowed}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toContain('refusing');
      expect(r.net).toEqual([]);
    }
  });

  it('guards the context chosen with --context, not only the current one', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', TWO_CONTEXTS, '--context', 'prod-admin'], { ASA_BENCH_ALLOW_CONTEXTS: 'kind-dev' });
    expect(r.code, r.stderr).toBe(3);
    expectOneClearError(r);
    expect(r.stderr).toContain('refusing');
    expect(r.stderr).toContain('ASA_BENCH_ALLOW_CONTEXTS=prod-admin');
    expect(r.net).toEqual([]);
  });

  it('guards cleanup too (it deletes)', async () => {
    const r = await runCli(['cleanup', '--all', '--kubeconfig', PROD]);
    expect(r.code, r.stderr).toBe(3);
    expectOneClearError(r);
    expect(r.stderr).toContain('refusing');
    expect(r.net).toEqual([]);
  });

  it.each([
    ['an IPv4 address', 'https://10.0.0.1:6443'],
    ['the unspecified address', 'https://0.0.0.0:6443'],
    ['a loopback look-alike name', 'https://127.0.0.1.nip.io:6443'],
    ['localhost as a subdomain', 'https://localhost.prod.invalid:6443'],
    ['an IPv4-mapped IPv6 address', 'https://[::ffff:10.0.0.1]:6443'],
    ['a public IPv6 address', 'https://[2001:db8::1]:6443'],
  ])('refuses %s (%s) without touching the network', async (_what, server) => {
    const kc = await writeTemp(`kc-${++counter}.yaml`, kubeconfigFor(server, `      token: ${PROD_TOKEN}`));
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(3);
    expectOneClearError(r);
    expect(r.stderr).toContain('refusing');
    expect(r.net).toEqual([]);
  });

  it.each([
    ['127.0.0.2', (port: number) => `https://127.0.0.2:${port}`, '127.0.0.2'],
    ['127.0.0.1', (port: number) => `https://127.0.0.1:${port}`, '127.0.0.1'],
    ['localhost', (port: number) => `https://localhost:${port}`, '127.0.0.1'],
  ])('allows a loopback server (%s) without --yes: it gets as far as connecting', async (_what, url, bindHost) => {
    const port = await closedPort(bindHost);
    const kc = await writeTemp(`kc-${++counter}.yaml`, kubeconfigFor(url(port), `      token: ${PROD_TOKEN}`));
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(3);
    expectOneClearError(r);
    expect(r.stderr).not.toContain('refusing');
    expect(r.stderr).toContain('cannot connect to');
    expect(r.net.some((e) => e.connect !== undefined && Number(e.port) === port)).toBe(true);
  });

  it('does not run an exec credential plugin for a refused target (it runs once allowed)', async () => {
    const plugin = await writeTemp('plugin.mjs', EXEC_PLUGIN);
    const marker = path.join(tmp, 'plugin-ran');
    const user = `      exec:
        apiVersion: client.authentication.k8s.io/v1
        command: ${JSON.stringify(process.execPath)}
        args: [${JSON.stringify(plugin)}]
        interactiveMode: Never`;
    const kc = await writeTemp('exec.yaml', kubeconfigFor('https://prod.invalid:6443', user));

    const refused = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kc], { ASA_TEST_PLUGIN_MARKER: marker });
    expect(refused.code, refused.stderr).toBe(3);
    expectOneClearError(refused);
    expect(refused.stderr).toContain('refusing');
    expect(existsSync(marker)).toBe(false);
    expect(refused.net).toEqual([]);

    const allowed = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', kc, '--yes'], { ASA_TEST_PLUGIN_MARKER: marker });
    expect(allowed.code, allowed.stderr).toBe(3);
    expect(allowed.stderr).toContain('cannot resolve the host');
    expect(allowed.stderr).not.toContain('exec-plugin-token');
    expect(existsSync(marker)).toBe(true);
  });
});

describe('--dry-run', () => {
  it('prints the plan and exits 0 without checking the guard or touching any server', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--kubeconfig', PROD, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('scenario smoke');
    expect(r.stdout).toMatch(/total: 20 CRDs and 100 objects created/);
    expect(r.stderr).not.toContain('refusing');
    expect(r.net).toEqual([]);
  });
});

describe('absurd values are bad input (exit 2), checked before the target', () => {
  const crds = `version: 1
name: absurd-crds
generate:
  crds: { count: 10000000 }
phases:
  - { name: install, op: create, of: crds, concurrency: 5 }
`;
  const rate = (r: string) => `version: 1
name: absurd-rate
generate:
  crds: { count: 3 }
phases:
  - { name: install, op: create, of: crds, concurrency: 3 }
  - { name: list, op: list, rate: ${r}, duration: 1s }
`;

  it('10 million CRDs: exit 2 naming --allow-huge, even against a refused target', async () => {
    const file = await writeTemp('absurd-crds.yaml', crds);
    for (const target of [[], ['--kubeconfig', PROD]]) {
      const r = await runCli(['run', file, ...target]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('generate.crds.count');
      expect(r.stderr).toContain('10000000');
      expect(r.stderr).toContain('--allow-huge');
      expect(r.stderr).not.toContain('refusing');
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.net).toEqual([]);
    }
  });

  it('a rate of 1e9/s: exit 2 naming --allow-huge', async () => {
    const file = await writeTemp('absurd-rate.yaml', rate('1000000000/s'));
    const r = await runCli(['run', file, '--kubeconfig', PROD]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('phases[1].rate');
    expect(r.stderr).toContain('1000000000');
    expect(r.stderr).toContain('--allow-huge');
    expect(r.net).toEqual([]);
  });

  it('a rate written 1e9/s is not a rate: exit 2', async () => {
    const file = await writeTemp('absurd-rate-exp.yaml', rate('1e9/s'));
    const r = await runCli(['run', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('phases[1].rate');
    expect(r.stderr).toContain('expected a rate');
    expect(r.net).toEqual([]);
  });

  it('--allow-huge lifts the ceiling (shown with --dry-run, nothing touched)', async () => {
    const file = await writeTemp('absurd-crds-2.yaml', crds);
    const r = await runCli(['run', file, '--allow-huge', '--dry-run', '--kubeconfig', PROD]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/total: 10000000 CRDs/);
    expect(r.net).toEqual([]);
  });
});
