/**
 * Credentials that change during a run: a kubeconfig whose user is an exec
 * plugin (a shell script issuing a new token that expires a second later, as
 * EKS's `aws eks get-token` does after 15 minutes), read through
 * @kubernetes/client-node; a small local HTTP server records the
 * Authorization header each request carries (transport detail only).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { JSON_HEADERS, KubeClient } from '../../src/kube/client.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';

let dir: string;
let server: Server;
let url: string;
const seen: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'asa-cred-'));
  server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.statusCode = req.headers.authorization === 'Bearer stale' ? 401 : 200;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Issues tok-1, tok-2, ... each valid for one second.
  const plugin = path.join(dir, 'plugin.sh');
  await writeFile(
    plugin,
    `#!/bin/sh
n=$(cat "${dir}/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/count"
exp=$(date -u -d '+1 second' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"%s"}}' "$n" "$exp"
`,
  );
  await chmod(plugin, 0o755);
});

afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

async function kubeconfig(user: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, `kubeconfig-${Object.keys(user).join('-')}`);
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP (a local test server): the library requires skip-verify for http:// servers.
      clusters: [{ name: 'c', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return file;
}

describe('changing credentials', () => {
  it('writes a renewed exec token into headers built before the run, without a new client', async () => {
    const connection = await connectionFromKubeconfig({ kubeconfig: await kubeconfig({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: path.join(dir, 'plugin.sh'), interactiveMode: 'Never' } }) });
    expect(connection.headers.authorization).toBe('Bearer tok-1');
    expect(connection.refreshHeaders).toBeTypeOf('function');
    const client = new KubeClient(connection, { connections: 1, credentialRefreshMs: 100 });
    try {
      const prebuilt = client.headers(JSON_HEADERS); // as ops build their requests ahead of the hot loop
      await client.send({ method: 'GET', path: '/a', headers: prebuilt });
      expect(seen.at(-1)).toBe('Bearer tok-1');
      // The token expires after a second; the periodic check fetches the next one.
      await new Promise((r) => setTimeout(r, 2_500));
      await client.send({ method: 'GET', path: '/b', headers: prebuilt });
      await client.send({ method: 'GET', path: '/c' });
      const renewed = seen.slice(-2);
      expect(renewed[0]).toMatch(/^Bearer tok-([2-9]|\d\d)$/);
      expect(renewed[1]).toBe(renewed[0]);
      expect(client.credentialChanges).toBeGreaterThanOrEqual(1);
      expect(Number(await readFile(path.join(dir, 'count'), 'utf8'))).toBeGreaterThanOrEqual(2);
    } finally {
      await client.close();
    }
  });

  it('a static token is applied once and never re-read', async () => {
    const connection = await connectionFromKubeconfig({ kubeconfig: await kubeconfig({ token: 'static' }) });
    expect(connection.headers.authorization).toBe('Bearer static');
    expect(connection.refreshHeaders).toBeUndefined();
  });
});
