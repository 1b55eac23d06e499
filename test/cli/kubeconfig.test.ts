import { runCli as runHelper } from '../helpers/cli.js';
/**
 * How the CLI reports a target it cannot use: a missing, broken or wrong
 * kubeconfig, a server it cannot reach, TLS it cannot verify, credentials the
 * server rejects. Each is exit 3 with one message line and one hint line on
 * stderr, no stack trace and no secret from the kubeconfig.
 *
 * The servers here are small local HTTPS servers on loopback (certificates
 * made with openssl in beforeAll): they exercise the transport and error
 * path, not Kubernetes behaviour, and only ever answer /version with an error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/kubeconfig');
const SCENARIO = path.join(ROOT, 'test/fixtures/scenarios/valid/minimal.yaml');
const SECRETS = ['fixture-', 'test-token-', '-----BEGIN'];

let tmp: string;
let serverCa: string;
let otherCa: string;
/** Requests the HTTPS servers received: method, url, authorization. */
/** The CLI without the caller's kubeconfig or allow-list leaking in. */
const runCli = (args: string[], env: NodeJS.ProcessEnv = {}) => runHelper(args, { ASA_BENCH_ALLOW_CONTEXTS: undefined, KUBECONFIG: undefined, ...env });

const seen: { method: string; url: string; authorization?: string }[] = [];
const servers: https.Server[] = [];
let port1: number;
let port2: number;


/** Exit 3; stderr is `asa-bench: <message>` and at most a `hint: ` line; no stack, no secret. */
function expectTargetError(r: { code: number | null; stdout: string; stderr: string }, message: RegExp | string, hint?: RegExp | string): string[] {
  expect(r.code, r.stderr).toBe(3);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.length, r.stderr).toBeLessThanOrEqual(2);
  expect(lines[0]).toMatch(/^asa-bench: /);
  if (typeof message === 'string') expect(lines[0]).toContain(message);
  else expect(lines[0]).toMatch(message);
  if (hint !== undefined) {
    expect(lines[1], r.stderr).toBeDefined();
    expect(lines[1]).toMatch(/^hint: /);
    if (typeof hint === 'string') expect(lines[1]).toContain(hint);
    else expect(lines[1]).toMatch(hint);
  }
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/internal error|please report/);
  for (const secret of SECRETS) expect(r.stderr + r.stdout).not.toContain(secret);
  expect(r.stdout).toBe('');
  return lines;
}

function kubeconfig(server: string, cluster: Record<string, string | boolean> = {}, token = 'test-token-abc'): string {
  const extra = Object.entries(cluster)
    .map(([k, v]) => `\n      ${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join('');
  return `apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster:
      server: ${server}${extra}
contexts:
  - name: ctx
    context: { cluster: c, user: u }
current-context: ctx
users:
  - name: u
    user:
      token: ${token}
`;
}

let counter = 0;
async function writeKubeconfig(text: string): Promise<string> {
  const file = path.join(tmp, `kubeconfig-${++counter}.yaml`);
  await writeFile(file, text);
  return file;
}

function selfSigned(name: string, subject: string, san: string): { cert: string; key: string } {
  const key = path.join(tmp, `${name}.key`);
  const cert = path.join(tmp, `${name}.crt`);
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-addext', `subjectAltName=${san}`, '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('openssl not found: these tests make certificates with it; `npm test` installs it (scripts/ensure-test-tools.sh)');
    throw err;
  }
  return { cert, key };
}

async function listen(server: https.Server | net.Server, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server, '127.0.0.1');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'asa-kubeconfig-'));
  const server = selfSigned('server', '/CN=localhost', 'IP:127.0.0.1');
  const other = selfSigned('other', '/CN=other-ca', 'IP:127.0.0.1');
  serverCa = Buffer.from(await readFile(server.cert)).toString('base64');
  otherCa = Buffer.from(await readFile(other.cert)).toString('base64');
  const options = { key: await readFile(server.key), cert: await readFile(server.cert) };
  // Answers /version by the bearer token: an expired one (401) or one without rights (403).
  const handler: http.RequestListener = (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const forbidden = req.headers.authorization === 'Bearer test-token-forbidden';
    const code = forbidden ? 403 : 401;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: forbidden ? 'forbidden: User "x" cannot get path "/version"' : 'Unauthorized', reason: forbidden ? 'Forbidden' : 'Unauthorized', code }));
  };
  const s1 = https.createServer(options, handler);
  const s2 = https.createServer(options, handler);
  servers.push(s1, s2);
  port1 = await listen(s1, '127.0.0.1');
  // Same certificate (SAN IP:127.0.0.1) served on 127.0.0.2: a name mismatch.
  port2 = await listen(s2, '127.0.0.2');
});

afterAll(async () => {
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
  await rm(tmp, { recursive: true, force: true });
});

describe('kubeconfig problems (exit 3, one line + hint)', () => {
  it('a missing kubeconfig file', async () => {
    const missing = path.join(tmp, 'does-not-exist.yaml');
    const r = await runCli(['cleanup', '--all', '--kubeconfig', missing]);
    expectTargetError(r, `kubeconfig ${missing} does not exist`, /--kubeconfig PATH.*KUBECONFIG/);
  });

  it('a missing kubeconfig file for run, too', async () => {
    const missing = path.join(tmp, 'does-not-exist.yaml');
    const r = await runCli(['run', SCENARIO, '--kubeconfig', missing]);
    expectTargetError(r, `kubeconfig ${missing} does not exist`, 'hint: ');
  });

  it('--context without --kubeconfig and with KUBECONFIG empty falls back to ~/.kube/config', async () => {
    const home = await mkdtemp(path.join(tmp, 'home-'));
    const r = await runCli(['cleanup', '--all', '--context', 'x'], { KUBECONFIG: '', HOME: home });
    expectTargetError(r, `kubeconfig ${path.join(home, '.kube', 'config')} does not exist`, 'hint: ');
  });

  it('an unknown context lists the known ones', async () => {
    const r = await runCli(['cleanup', '--all', '--kubeconfig', path.join(FIXTURES, 'two-contexts.yaml'), '--context', 'staging']);
    expectTargetError(r, /context "staging" is not in .*two-contexts\.yaml/, 'hint: known contexts: kind-dev, prod-admin');
  });

  it('malformed YAML: the position, not the file lines (which hold a token)', async () => {
    const r = await runCli(['cleanup', '--all', '--kubeconfig', path.join(FIXTURES, 'malformed.yaml')]);
    expectTargetError(r, /kubeconfig .*malformed\.yaml cannot be read: .*\(\d+:\d+\)$/, 'valid kubeconfig YAML');
  });

  it('an empty file and a file that is not a kubeconfig', async () => {
    const empty = await writeKubeconfig('');
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', empty]), 'cannot be read', 'hint: ');
    const notKubeconfig = await writeKubeconfig('- just\n- a list\n');
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', notKubeconfig]), 'has no current cluster', '--context');
  });

  it('an invalid server URL', async () => {
    const kc = await writeKubeconfig(kubeconfig('not a url'));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), 'invalid server URL', 'server URL');
  });

  it('a certificate-authority file that does not exist', async () => {
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port1}`, { 'certificate-authority': path.join(tmp, 'nope.crt') }));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), /cannot load credentials for context "ctx": .*nope\.crt/, 'hint: ');
  });
});

describe('server problems (exit 3, one line + hint)', () => {
  it('TLS: the kubeconfig trusts a different CA', async () => {
    const before = seen.length;
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port1}`, { 'certificate-authority-data': otherCa }));
    const r = await runCli(['cleanup', '--all', '--kubeconfig', kc]);
    expectTargetError(r, `TLS verification of https://127.0.0.1:${port1} failed`, 'certificate-authority');
    // The handshake failed, so no request (and no token) reached the server.
    expect(seen.length).toBe(before);
  });

  it('TLS: the kubeconfig has no CA for a self-signed server', async () => {
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port1}`));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), 'TLS verification', 'hint: ');
  });

  it("TLS: the right CA but the certificate is not for the server's address", async () => {
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.2:${port2}`, { 'certificate-authority-data': serverCa }));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), /TLS verification of https:\/\/127\.0\.0\.2:\d+ failed \(ERR_TLS_CERT_ALTNAME_INVALID\)/, 'hint: ');
  });

  it('the server is unreachable (a closed port)', async () => {
    const port = await closedPort();
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port}`, { 'certificate-authority-data': serverCa }));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), `cannot connect to https://127.0.0.1:${port} (ECONNREFUSED)`, 'reachable');
    expectTargetError(await runCli(['run', SCENARIO, '--kubeconfig', kc]), 'cannot connect to', 'hint: ');
  });

  it('the server does not speak TLS', async () => {
    // Reads (and drops) what the client sends, so the socket closes when the client goes.
    const plain = net.createServer((socket) => socket.resume().end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const port = await listen(plain, '127.0.0.1');
    try {
      const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port}`, { 'certificate-authority-data': serverCa }));
      expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), /TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed/, 'HTTPS');
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('expired credentials: the server answers 401', async () => {
    const before = seen.length;
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port1}`, { 'certificate-authority-data': serverCa }, 'test-token-expired'));
    for (const args of [['cleanup', '--all'], ['run', SCENARIO]]) {
      const r = await runCli([...args, '--kubeconfig', kc]);
      expectTargetError(r, `https://127.0.0.1:${port1} rejected the credentials of context "ctx" (401 Unauthorized)`, /expired/);
    }
    // It was a real round trip: the token went to the (trusted, loopback) server, and only GET /version.
    const requests = seen.slice(before);
    expect(requests.length).toBe(2);
    for (const req of requests) expect(req).toEqual({ method: 'GET', url: '/version', authorization: 'Bearer test-token-expired' });
  });

  it('a user without rights: the server answers 403', async () => {
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port1}`, { 'certificate-authority-data': serverCa }, 'test-token-forbidden'));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), '403 Forbidden', 'read access');
  });

  it('insecure-skip-tls-verify in the kubeconfig is honoured (the request reaches the server)', async () => {
    const before = seen.length;
    const kc = await writeKubeconfig(kubeconfig(`https://127.0.0.1:${port1}`, { 'insecure-skip-tls-verify': true }, 'test-token-expired'));
    expectTargetError(await runCli(['cleanup', '--all', '--kubeconfig', kc]), '401 Unauthorized', 'hint: ');
    expect(seen.length).toBe(before + 1);
  });
});
