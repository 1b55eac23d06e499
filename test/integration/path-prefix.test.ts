/**
 * A kubeconfig server URL with a path (kcp workspaces, Rancher and other
 * proxies: https://host/clusters/root:team) must prefix every request:
 * writes, reads, discovery, OpenAPI documents the server links to, watches,
 * /metrics, from the main thread and from load threads. Proven against the
 * real local kube-apiserver behind a small path-prefix proxy that forwards
 * only prefixed requests and counts any other as a miss.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanup } from '../../src/engine/cleanup.js';
import { KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import type { RunInfo, RunSummary } from '../../src/types/results.js';
import { runCli } from '../helpers/cli.js';

const PREFIX = '/clusters/root:team';

const SCENARIO = `version: 1
name: path-prefix
seed: 3
generate:
  crds: { count: 2, groups: 1 }
  objects: { perCRD: 3, sizeBytes: 256, namespaces: 1 }
phases:
  - { name: install, op: create, of: crds, concurrency: 2, waitFor: established }
  - { name: create, op: create, of: objects, concurrency: 2 }
  - { name: list, op: list, consistency: cache, concurrency: 2, repeat: 6 }
  - { name: get, op: get, consistency: quorum, repeat: 6 }
  - { name: patch, op: patch, of: objects, concurrency: 2, repeat: 20 }
  - { name: watch, op: watch, watchers: 2, during: patch }
  - { name: discovery-fanout, op: discovery, mode: legacy-fanout, repeat: 1 }
  - { name: discovery-aggregated, op: discovery, mode: aggregated, repeat: 1 }
  - { name: openapi-groups, op: openapi, version: v3-groups, repeat: 1 }
cleanup: false
`;

interface Seen {
  prefixed: string[];
  misses: string[];
}

/**
 * Forwards `PREFIX/...` to the real server (TLS verified with its CA); anything else is a 404 and
 * a miss. HTTPS with its own self-signed certificate: client-node refuses a token over plain HTTP.
 */
function prefixProxy(upstream: URL, ca: Buffer, tls: { cert: Buffer; key: Buffer }, seen: Seen): Server {
  return createServer(tls, (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url !== PREFIX && !url.startsWith(`${PREFIX}/`) && !url.startsWith(`${PREFIX}?`)) {
      seen.misses.push(`${req.method} ${url}`);
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not under ${PREFIX}`);
      return;
    }
    const rest = url.slice(PREFIX.length) || '/';
    seen.prefixed.push(`${req.method} ${rest}`);
    const headers = { ...req.headers, host: upstream.host };
    const up = httpsRequest({ host: upstream.hostname, port: upstream.port, path: rest, method: req.method, headers, ca }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
}

let root: string;
let proxy: Server;
const seen: Seen = { prefixed: [], misses: [] };
let kubeconfig: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'asa-prefix-'));
  // The shared control plane's load user, reached through the proxy as a remote target.
  const local = parse(await readFile(inject('kubeconfig'), 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { name: string; user: { token: string } }[];
    contexts: { name: string; context: { user: string } }[];
    'current-context': string;
  };
  const current = local.contexts.find((c) => c.name === local['current-context'])!;
  const token = local.users.find((u) => u.name === current.context.user)!.user.token;
  const upstream = new URL(local.clusters[0]!.cluster.server);
  const ca = Buffer.from(local.clusters[0]!.cluster['certificate-authority-data'], 'base64');
  const [certFile, keyFile] = [path.join(root, 'proxy.crt'), path.join(root, 'proxy.key')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  const proxyCert = await readFile(certFile);
  proxy = prefixProxy(upstream, ca, { cert: proxyCert, key: await readFile(keyFile) }, seen);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  kubeconfig = path.join(root, 'kubeconfig');
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'workspace', cluster: { server: `https://127.0.0.1:${port}${PREFIX}`, 'certificate-authority-data': proxyCert.toString('base64') } }],
      users: [{ name: 'team', user: { token } }],
      contexts: [{ name: 'root-team', context: { cluster: 'workspace', user: 'team' } }],
      'current-context': 'root-team',
    }),
  );
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  if (root) await rm(root, { recursive: true, force: true });
});

async function runThrough(name: string, extra: string[]): Promise<{ run: RunInfo; summary: RunSummary }> {
  const scenario = path.join(root, `${name}.yaml`);
  await writeFile(scenario, SCENARIO.replace('name: path-prefix', `name: ${name}`));
  const out = path.join(root, name);
  const res = await runCli(['run', scenario, '--kubeconfig', kubeconfig, '--out', out, ...extra]);
  expect(res.code, res.stderr.slice(-3000)).toBe(0);
  const run = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as RunInfo;
  const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
  // The proxy is not the local control plane: clean up on the real server directly.
  const client = new KubeClient(await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig') }), { connections: 4 });
  try {
    for (const id of run.runId.split('+')) await cleanup(client, { runId: id, finalizeNamespaces: true });
  } finally {
    await client.close();
  }
  return { run, summary };
}

describe('a server URL with a path', () => {
  it('prefixes every request: writes, reads, discovery, OpenAPI links, watches and /metrics', { timeout: 300_000 }, async () => {
    const { run, summary } = await runThrough('prefix', []);
    expect(run.target.server).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:\\d+${PREFIX}$`));
    const ops = summary.phases.flatMap((p) => p.ops);
    const errors = ops.filter((o) => Object.keys(o.errors).length > 0).map((o) => `${o.op}: ${JSON.stringify(o.errors)}`);
    expect(errors).toEqual([]);
    for (const phase of ['install', 'create', 'list', 'get', 'patch', 'watch', 'discovery-fanout', 'discovery-aggregated', 'openapi-groups']) {
      const ops = summary.phases.find((p) => p.phase === phase)?.ops ?? [];
      expect(ops.some((o) => o.count > 0), `${phase} measured something`).toBe(true);
    }
    const events = ops.filter((o) => o.op.startsWith('watch.events')).reduce((a, o) => a + o.count, 0);
    expect(events, 'watch events arrived through the proxy').toBeGreaterThan(0);
    const seenText = seen.prefixed.join('\n');
    expect(seenText).toMatch(/^POST \/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions/m);
    expect(seenText).toMatch(/^GET \/apis\/[^\n]*[?&]watch=(true|1)/m);
    expect(seenText).toMatch(/^GET \/apis\/[a-z0-9.-]+\/v1(\?|$)/m);
    expect(seenText).toMatch(/^GET \/openapi\/v3\/apis\/[^\n]+hash=/m);
    expect(seenText).toMatch(/^GET \/metrics/m);
    expect(seen.misses).toEqual([]);
  });

  it('also from load threads (--threads 2)', { timeout: 300_000 }, async () => {
    const before = seen.prefixed.length;
    const { run, summary } = await runThrough('prefix-threads', ['--threads', '2']);
    expect(run.runId.split('+')).toHaveLength(2);
    expect(summary.phases.flatMap((p) => p.ops).filter((o) => Object.keys(o.errors).length > 0)).toEqual([]);
    expect(seen.prefixed.length).toBeGreaterThan(before);
    expect(seen.misses).toEqual([]);
  });
});
