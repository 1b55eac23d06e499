/**
 * The probe's bookkeeping against a tiny loopback server that answers pprof paths
 * with real profiles at once (test/fixtures/pprof/): which profile requests it
 * makes per phase, how it merges and files them, and what a denial does. That the
 * real servers answer these requests is shown by test/integration/profiles.test.ts.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeProfile } from '../../src/profiles/decode.js';
import { ProfileProbe } from '../../src/profiles/probe.js';
import { httpSource } from '../../src/profiles/sources.js';
import { ROOT } from '../helpers/cli.js';

const fixture = (name: string) => readFileSync(path.join(ROOT, 'test/fixtures/pprof', name));
let server: Server | undefined;

afterEach(() => server?.close());

async function pprofServer(answer: (url: string) => { status: number; body: Buffer }): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  server = createServer((req, res) => {
    requests.push(req.url!);
    const a = answer(req.url!);
    res.writeHead(a.status).end(a.body);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function probeFor(url: string, durations: Record<string, number> = {}) {
  const files = new Map<string, Uint8Array>();
  const messages: string[] = [];
  const probe = new ProfileProbe({
    sources: [httpSource('etcd', 'etcd', url, { timeoutMs: 5000 })],
    cpu: true,
    heap: true,
    durationOf: (phase) => durations[phase],
    signal: new AbortController().signal,
    write: async (file, bytes) => void files.set(file, bytes),
    onMessage: (m) => messages.push(m),
  });
  return { probe, files, messages };
}

const step = (index: number, crds: number) => ({ index, level: crds, crds });
const tick = () => new Promise((r) => setTimeout(r, 30));

describe('ProfileProbe', () => {
  it('covers an iteration-bound phase with 1, 2, 4, 8 s requests until it ends, merged into one file; heap at each step end', async () => {
    const srv = await pprofServer((url) => ({ status: 200, body: fixture(url.startsWith('/debug/pprof/heap') ? 'etcd.heap.60crds.pb.gz' : 'etcd.list-quorum.cpu.pb.gz') }));
    const { probe, files } = probeFor(srv.url);
    await probe.beforePhase(step(0, 10), 'install');
    probe.phaseStarted('install');
    // The loopback server answers at once, so requests follow each other until the phase ends.
    while (srv.requests.length < 5) await tick();
    probe.phaseEnded('install');
    await probe.beforePhase(step(1, 20), 'install');
    probe.phaseStarted('install');
    await tick();
    probe.phaseEnded('install');
    await probe.afterPhases();

    const cpuRequests = srv.requests.filter((u) => u.startsWith('/debug/pprof/profile'));
    expect(cpuRequests.slice(0, 5)).toEqual([1, 2, 4, 8, 8].map((s) => `/debug/pprof/profile?seconds=${s}`));
    expect(srv.requests.filter((u) => u === '/debug/pprof/heap?gc=1')).toHaveLength(2);
    const result = probe.result();
    const first = result.cpu.find((c) => c.step === 0)!;
    const n = srv.requests.indexOf('/debug/pprof/heap?gc=1');
    expect(first.profiledSeconds).toBe(cpuRequests.slice(0, n).reduce((a, u) => a + Number(u.split('=')[1]), 0));
    expect(first.file).toBe('profiles/step-0/etcd/install.cpu.pb.gz');
    // The merged file holds every request's samples.
    const one = decodeProfile(fixture('etcd.list-quorum.cpu.pb.gz')).samples.length;
    expect(decodeProfile(files.get(first.file)!).samples.length).toBe(one * n);
    expect([...files.keys()].filter((f) => f.endsWith('heap.pb.gz')).sort()).toEqual(['profiles/step-0/etcd/heap.pb.gz', 'profiles/step-1/etcd/heap.pb.gz']);
    expect(result.heapGrowth).toHaveLength(1);
    expect(result.heapGrowth[0]!.deltaBytes).toBe(0);
  });

  it('asks for the rest of a known phase duration in one request', async () => {
    const srv = await pprofServer(() => ({ status: 200, body: fixture('etcd.list-quorum.cpu.pb.gz') }));
    const { probe } = probeFor(srv.url, { churn: 10_000 });
    await probe.beforePhase(step(0, 10), 'churn');
    probe.phaseStarted('churn');
    probe.phaseStarted('watch');
    // A companion's end does not end the group's profile: only the host's does.
    probe.phaseEnded('watch');
    while (srv.requests.length < 2) await tick();
    probe.phaseEnded('churn');
    await probe.afterPhases();
    expect(srv.requests[0]).toBe('/debug/pprof/profile?seconds=10');
    expect(probe.result().cpu[0]).toMatchObject({ phase: 'churn', phases: ['churn', 'watch'] });
  });

  it('a denied source: one message, recorded as unavailable, no further requests, and the probe carries on', async () => {
    const srv = await pprofServer(() => ({ status: 403, body: Buffer.from('{"kind":"Status","message":"forbidden: User \\"x\\" cannot get path \\"/debug/pprof/profile\\""}') }));
    const { probe, messages } = probeFor(srv.url);
    for (const [i, phase] of ['a', 'b'].entries()) {
      await probe.beforePhase(step(i, 10 * (i + 1)), phase);
      probe.phaseStarted(phase);
      await tick();
      probe.phaseEnded(phase);
    }
    await probe.afterPhases();
    expect(messages).toEqual([expect.stringMatching(/^profiles from etcd unavailable: GET .*\/debug\/pprof\/profile\?seconds=1 answered 403/)]);
    expect(srv.requests).toEqual(['/debug/pprof/profile?seconds=1']);
    expect(probe.result()).toMatchObject({ sources: ['etcd'], unavailable: [{ source: 'etcd' }], cpu: [], heap: [] });
  });
});
