/**
 * `asa-bench cleanup` on the real control plane: when labelled objects remain
 * after --timeout, it
 * says how many and exits 4; once the finalizer is gone, exit 0. The object is
 * a CRD held by a finalizer nobody removes (a namespace would not do: on the
 * local control plane cleanup finalizes namespaces itself, and the finalize
 * subresource replaces their metadata finalizers too).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { countLeftovers } from '../../src/engine/cleanup.js';
import { newRunId } from '../../src/generators/run-id.js';
import { KubeClient } from '../../src/kube/client.js';
import { CRD_PATH } from '../../src/kube/paths.js';
import { connectionFromKubeconfig } from '../../src/kube/target.js';
import { runCli } from '../helpers/cli.js';

const HOLD = 'asa-bench.io/test-hold';
let client: KubeClient;
const runId = newRunId();
const crd = `holds.${runId}.test.asa.io`;
const crdBody = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: crd, labels: { 'asa-bench.io/run': runId }, finalizers: [HOLD] },
  spec: {
    group: `${runId}.test.asa.io`,
    scope: 'Namespaced',
    names: { plural: 'holds', singular: 'hold', kind: 'Hold' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};
const release = () => client.sendJson('PATCH', `${CRD_PATH}/${crd}`, { metadata: { finalizers: null } }, 'application/merge-patch+json');

beforeAll(async () => {
  client = new KubeClient(await connectionFromKubeconfig({ kubeconfig: inject('kubeconfig'), local: true }), { connections: 2 });
});

afterAll(async () => {
  await release().catch(() => {});
  await runCli(['cleanup', '--run', runId, '--kubeconfig', inject('kubeconfig')]);
  await client.close();
});

describe('cleanup exit codes', () => {
  it('exits 4 while a labelled object remains after --timeout, 0 once it is gone', async () => {
    await client.sendJson('POST', CRD_PATH, crdBody);

    const started = performance.now();
    const held = await runCli(['cleanup', '--run', runId, '--timeout', '2s', '--kubeconfig', inject('kubeconfig')]);
    expect(held.code, held.stdout + held.stderr).toBe(4);
    expect(held.stdout).toContain('deleted 1 CRDs and 0 namespaces; 1 labelled objects remain');
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(await countLeftovers(client, runId)).toBe(1);

    await release();
    const freed = await runCli(['cleanup', '--run', runId, '--timeout', '30s', '--kubeconfig', inject('kubeconfig')]);
    expect(freed.code, freed.stderr).toBe(0);
    expect(await countLeftovers(client, runId)).toBe(0);
  });
});
