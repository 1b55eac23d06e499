/**
 * The manifests `distribute` creates: an Indexed Job whose pod k runs shard
 * k+1 of N, least-privilege RBAC derived from the scenario, the scenario file
 * byte for byte in a ConfigMap, and YAML that parses back to the same objects.
 * (That the API server accepts them is test/integration/distribute.test.ts.)
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { crdRef } from '../../src/generators/crds.js';
import {
  benchPlurals,
  buildManifests,
  DISTRIBUTE_LABEL,
  distributeNames,
  manifestsYaml,
  maxCrdsPerShard,
  MAX_NAMED_RESOURCES,
  ownedByNamespace,
  SCENARIO_KEY,
  WORKER_RESULT_DIR,
  workerRules,
  type DistributeSpec,
} from '../../src/distribute/manifests.js';
import { loadScenarioFile } from '../../src/scenarios/parse.js';
import { UsageError } from '../../src/types/errors.js';
import { ROOT } from '../helpers/cli.js';

const smoke = await loadScenarioFile(path.join(ROOT, 'scenarios/smoke.yaml'));

function spec(extra: Partial<DistributeSpec> = {}): DistributeSpec {
  return {
    id: 'rtest001',
    scenarioText: smoke.text,
    doc: smoke.doc,
    workers: 3,
    image: 'registry.example/asa-bench:0.1.0',
    namespace: 'asa-bench-rtest001',
    createNamespace: true,
    timeoutSeconds: 900,
    workerFlags: ['--connections', '32'],
    ...extra,
  };
}

type Json = Record<string, any>;

describe('the Indexed Job', () => {
  it('runs N pods once each, in Indexed mode, the worker reading the scenario from the ConfigMap', () => {
    const m = buildManifests(spec());
    const job = m.job as Json;
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.metadata).toMatchObject({ name: 'asa-bench-rtest001', namespace: 'asa-bench-rtest001', labels: { [DISTRIBUTE_LABEL]: 'rtest001' } });
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimitPerIndex: 0, backoffLimit: 3, activeDeadlineSeconds: 900 });
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.serviceAccountName).toBe(m.names.serviceAccount);
    expect(job.spec.template.metadata.labels[DISTRIBUTE_LABEL]).toBe('rtest001');
    const [container] = pod.containers;
    expect(container.image).toBe('registry.example/asa-bench:0.1.0');
    expect(container.args).toEqual(['distribute-worker', `/etc/asa-bench/${SCENARIO_KEY}`, '--count', '3', '--out', WORKER_RESULT_DIR, '--connections', '32']);
    // The scenario volume is the ConfigMap; results go to a writable emptyDir under a read-only root.
    expect(pod.volumes).toContainEqual({ name: 'scenario', configMap: { name: m.names.configMap } });
    expect(container.volumeMounts).toContainEqual({ name: 'scenario', mountPath: '/etc/asa-bench', readOnly: true });
    expect(WORKER_RESULT_DIR.startsWith(container.volumeMounts.find((v: Json) => v.name === 'scratch').mountPath)).toBe(true);
    // Pod Security "restricted": non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // No CPU limit: throttling would show up as latency.
    expect(container.resources.limits).toBeUndefined();
  });

  it('names everything after the id, and labels all of it for one selector', () => {
    const m = buildManifests(spec());
    expect(m.names).toEqual(distributeNames('rtest001', 'asa-bench-rtest001'));
    expect(m.all.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job']);
    for (const o of m.all) expect(o.metadata.labels?.[DISTRIBUTE_LABEL], o.kind).toBe('rtest001');
    expect(m.selector).toBe(`${DISTRIBUTE_LABEL}=rtest001`);
    // Namespaced objects go to the namespace, cluster-scoped ones have none.
    expect(m.all.filter((o) => o.metadata.namespace).map((o) => o.kind)).toEqual(['ServiceAccount', 'ConfigMap', 'Job']);
    expect(m.clusterRoleBinding).toMatchObject({ roleRef: { kind: 'ClusterRole', name: m.names.clusterRole }, subjects: [{ kind: 'ServiceAccount', name: m.names.serviceAccount, namespace: 'asa-bench-rtest001' }] });
  });

  it('uses an existing namespace without a Namespace manifest', () => {
    const m = buildManifests(spec({ namespace: 'load', createNamespace: false }));
    expect(m.namespace).toBeUndefined();
    expect(m.all.map((o) => o.kind)).toEqual(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job']);
    expect(m.job.metadata.namespace).toBe('load');
    expect((m.clusterRoleBinding as Json).subjects[0].namespace).toBe('load');
  });

  it('refuses a split that leaves a shard without CRDs, before anything is built', () => {
    expect(() => buildManifests(spec({ workers: 21 }))).toThrow(UsageError);
    expect(() => buildManifests(spec({ workers: 0 }))).toThrow(/workers/);
  });
});

describe('the worker ClusterRole', () => {
  it('names exactly the plurals the largest shard creates, from the generator', () => {
    // smoke: 20 CRDs over 3 shards → 7, 7, 6.
    expect(maxCrdsPerShard(smoke.doc, 3)).toBe(7);
    expect(maxCrdsPerShard(smoke.doc, 1)).toBe(20);
    const plurals = benchPlurals(smoke.doc, 7);
    expect(plurals).toEqual(['bench00000s', 'bench00001s', 'bench00002s', 'bench00003s', 'bench00004s', 'bench00005s', 'bench00006s']);
    // Independent of the run id, as the rule needs.
    expect(crdRef({ seed: 1, runId: 'rzzzzzzz', crds: smoke.doc.generate.crds! }, 6).plural).toBe(plurals[6]);
    const rules = (buildManifests(spec()).clusterRole as Json).rules as Json[];
    expect(rules.find((r) => r.resources?.includes('bench00000s'))).toEqual({ apiGroups: ['*'], resources: plurals, verbs: ['create', 'get', 'list', 'watch', 'patch', 'delete'] });
  });

  it('grants what the engine calls and nothing broader', () => {
    const rules = (buildManifests(spec()).clusterRole as Json).rules as Json[];
    expect(rules).toContainEqual({ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['create', 'get', 'list', 'watch', 'delete'] });
    expect(rules).toContainEqual({ apiGroups: [''], resources: ['namespaces'], verbs: ['create', 'list', 'delete'] });
    const nonResource = rules.find((r) => r.nonResourceURLs);
    expect(nonResource).toEqual({ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/openapi/*', '/version', '/metrics'], verbs: ['get'] });
    // No wildcard resource, no wildcard verb, no namespaces/finalize, nothing on pods or secrets.
    for (const r of rules) {
      expect(r.resources ?? []).not.toContain('*');
      expect(r.verbs).not.toContain('*');
      expect(r.resources ?? []).not.toContain('namespaces/finalize');
      expect(r.resources ?? []).not.toContain('secrets');
    }
  });

  it('leaves the custom-resource rule out without CRDs, and falls back to * (with a warning) past the limit', () => {
    expect(workerRules(smoke.doc, 0).rules.some((r) => (r.apiGroups as string[] | undefined)?.includes('*'))).toBe(false);
    expect(workerRules(smoke.doc, 0).rules).toHaveLength(3);
    const huge = workerRules(smoke.doc, MAX_NAMED_RESOURCES + 1);
    expect(huge.rules).toContainEqual({ apiGroups: ['*'], resources: ['*'], verbs: ['create', 'get', 'list', 'watch', 'patch', 'delete'] });
    expect(huge.warnings.join()).toMatch(/every resource of every group/);
  });

  it('makes cluster-scoped objects dependents of a created namespace', () => {
    const m = buildManifests(spec());
    const owned = ownedByNamespace(m.clusterRole, { metadata: { name: 'asa-bench-rtest001', uid: 'uid-1' } });
    expect(owned.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Namespace', name: 'asa-bench-rtest001', uid: 'uid-1' }]);
    expect(m.clusterRole.metadata.ownerReferences).toBeUndefined();
    expect(ownedByNamespace(m.clusterRole, { metadata: { name: 'x' } })).toBe(m.clusterRole);
  });
});

describe('YAML', () => {
  it('parses back to the same objects, the scenario text byte for byte', () => {
    const tricky = `${smoke.text}# trailing spaces   \n\tindented with a tab\n# ünïcödé — and a "quote": 'x'\n\n`;
    const m = buildManifests(spec({ scenarioText: tricky }));
    const docs = parseAllDocuments(manifestsYaml(m.all)).map((d) => d.toJS() as Json);
    expect(docs).toEqual(JSON.parse(JSON.stringify(m.all)));
    expect(docs.find((d) => d.kind === 'ConfigMap')!.data[SCENARIO_KEY]).toBe(tricky);
  });

  it('warns when the scenario does not fit a ConfigMap', () => {
    expect(buildManifests(spec()).warnings).toEqual([]);
    const big = buildManifests(spec({ scenarioText: `${smoke.text}#${'x'.repeat(1024 * 1024)}\n` }));
    expect(big.warnings.join()).toMatch(/1 MiB ConfigMap limit/);
  });
});
