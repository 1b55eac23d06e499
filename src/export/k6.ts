/**
 * `asa-bench export k6`: a scenario's plan as a k6 script (a JavaScript
 * module, which k6 runs directly) and a k6-operator TestRun to run it
 * distributed in a cluster.
 *
 * The script makes the requests src/engine/ops.ts makes for every request
 * phase k6 can express (k6-plan.ts maps the plan to k6 scenarios; k6-bundle.ts
 * bundles the request code with the real generators). Watch phases and
 * everything the engine measures outside HTTP request latency are left out,
 * and the script's header says so.
 *
 * Same plan and options, same text.
 */
import { stringify } from 'yaml';
import type { CrdShape } from '../generators/crds.js';
import { RUN_ID } from '../generators/run-id.js';
import type { Plan } from '../scenarios/plan.js';
import { bundleK6Script } from './k6-bundle.js';
import { buildK6Export, EXTRA_OBJECT_BLOCK, type K6Export, type K6ExportOptions } from './k6-plan.js';

export const DEFAULT_K6_RUN_ID = 'rk6xport';

/** Exported scripts are JavaScript modules (k6 runs them as they are): `<scenario>.k6.js`. */
export const K6_SCRIPT_SUFFIX = '.k6.js';

/** The k6 script for a plan: a header that says what it does and leaves out, then the bundled code (k6-bundle.ts). */
export function renderK6Script(plan: Plan, options: K6ExportOptions = {}): string {
  const built = buildK6Export(plan, options);
  if (Object.keys(built.scenarios).length === 0) throw new Error(`scenario ${plan.scenario.name}: no phase k6 can run (watch phases are not exported)`);
  const s = plan.scenario;
  const runId = options.runId ?? DEFAULT_K6_RUN_ID;
  if (!RUN_ID.test(runId)) throw new Error(`run id ${runId}: expected 8 lowercase letters or digits, starting with a letter`);
  const code = bundleK6Script({
    defaultRunId: runId,
    cleanup: s.cleanup,
    generate: { seed: s.seed, crds: s.generate.crds ?? NO_CRDS, objects: s.generate.objects ?? null },
    phases: built.phases,
    scenarios: built.scenarios,
    thresholds: built.thresholds,
  });
  return `${scriptHeader(plan, runId, built)}\n${code}`;
}

/** The generator input of a scenario without `generate.crds` (its phases touch no CRDs). */
const NO_CRDS: CrdShape = { count: 0, groups: 1, versions: 1, scope: 'Namespaced', schema: { properties: 0, depth: 0, arrays: false, enums: false, validationRules: 0 } };

function scriptHeader(plan: Plan, runId: string, built: K6Export): string {
  const s = plan.scenario;
  const comment = (text: string) =>
    text
      .split('\n')
      .map((l) => `// ${l}`.trimEnd())
      .join('\n');
  return comment(
    [
      `k6 script exported by asa-bench from scenario "${s.name}" (seed ${s.seed}).`,
      ...(s.description ? [s.description] : []),
      '',
      'Run:',
      `  K8S_SERVER=https://127.0.0.1:6443 K8S_TOKEN=<bearer token> k6 run ${s.name}${K6_SCRIPT_SUFFIX}`,
      'Environment:',
      '  K8S_SERVER       API server URL (required); a path prefix is kept',
      '  K8S_TOKEN        bearer token, or K8S_TOKEN_FILE: a file holding one',
      '  K8S_CLIENT_CERT  client certificate PEM file, with K8S_CLIENT_KEY (read with open())',
      "  K8S_INSECURE     '1' skips TLS verification; otherwise the server certificate must be",
      '                   trusted by the system (SSL_CERT_FILE=<ca.crt> works on Linux)',
      `  ASA_RUN_ID       run id in every name and label (default ${runId}); set a fresh one per run`,
      '',
      'Every request is tagged name=<operation> (as asa-bench keys its histograms, e.g. list.cache)',
      'and phase=<phase>; each k6 scenario is one phase at one step (tag step). The scenario `slo`',
      'becomes thresholds on http_req_duration{phase:...}.',
      '',
      "What k6 cannot measure here (asa-bench's own runs measure these):",
      '  - watch phases are skipped: no per-event watch delivery latency;',
      '  - CRD Established / servable / discovery lifecycle latencies: the script waits for them',
      '    after each create (tagged phase=unmeasured) but does not time them;',
      '  - server-side /metrics deltas (apiserver, etcd, process) and harness self-metrics;',
      '  - latency of whole iterations: k6 times single requests, so a discovery iteration',
      '    (2 requests), a paginated list or a legacy fan-out counts each request on its own.',
      'Simplified:',
      '  - phases run one after another through startTime offsets ESTIMATED from guessed request',
      `    latencies (about ${built.totalSeconds}s in all); a phase cut off by its maxDuration leaves`,
      '    work undone, one that ends early leaves an idle gap. Re-export with a larger latency scale to widen;',
      '  - later phases assume every earlier create succeeded (no gaps are tracked between phases);',
      `  - timed creates number their objects from blocks of ${EXTRA_OBJECT_BLOCK} so names never collide;`,
      '  - open-model phases with repeat run for repeat/rate seconds; maxInFlight is maxVUs;',
      '  - honorRetryAfter and onError are not applied; failed requests show in http_req_failed.',
      ...built.notes.map((n) => `Not exported: ${n}`),
      '',
      'Below: the asa-bench generators and request code, bundled from its sources (src/export/k6-script/main.ts).',
    ].join('\n'),
  );
}

/** A ConfigMap's data is limited to 1 MiB. */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

export interface TestRunOptions {
  /** Name of the ConfigMap and the TestRun (default: from the script name). */
  name?: string;
  namespace?: string;
}

export interface RenderedTestRun {
  documents: Record<string, unknown>[];
  /** Multi-document YAML: the ConfigMap, then the TestRun. */
  yaml: string;
  warnings: string[];
}

/**
 * A k6-operator TestRun (k6.io/v1alpha1) running `scriptName` from a ConfigMap
 * that holds the script, with `parallelism` runner pods. In-cluster the
 * runners talk to the API server as their service account (token file, and the
 * cluster CA through SSL_CERT_FILE).
 */
export function renderTestRun(scriptName: string, parallelism: number, script: string, options: TestRunOptions = {}): RenderedTestRun {
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`parallelism ${parallelism}: expected a whole number of at least 1`);
  const warnings: string[] = [];
  const name = options.name ?? dnsName(`asa-bench-${scriptName.replace(/\.k6\.[jt]s$|\.[jt]s$/, '')}`);
  const metadata = (extra: Record<string, unknown> = {}) => ({ name, ...(options.namespace ? { namespace: options.namespace } : {}), ...extra });
  const bytes = new TextEncoder().encode(script).length;
  if (bytes > CONFIGMAP_LIMIT_BYTES) {
    warnings.push(`${scriptName} is ${bytes} bytes, over the 1 MiB ConfigMap limit: the API server will reject the ConfigMap; use a volume or a smaller scenario`);
  }
  if (parallelism > 1) {
    warnings.push(
      `parallelism ${parallelism}: k6-operator splits every k6 scenario across ${parallelism} runners (execution segments); iteration numbers stay unique across runners, so they address the same objects as one runner would`,
    );
  }
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata({ labels: { 'app.kubernetes.io/created-by': 'asa-bench' } }),
    data: { [scriptName]: script },
  };
  const testRun = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: metadata({ labels: { 'app.kubernetes.io/created-by': 'asa-bench' } }),
    spec: {
      parallelism,
      script: { configMap: { name, file: scriptName } },
      runner: {
        env: [
          { name: 'K8S_SERVER', value: 'https://kubernetes.default.svc' },
          { name: 'K8S_TOKEN_FILE', value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
          { name: 'SSL_CERT_FILE', value: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' },
        ],
      },
    },
  };
  const documents = [configMap, testRun];
  return { documents, yaml: documents.map((d) => `---\n${stringify(d, { lineWidth: 0 })}`).join(''), warnings };
}

function dnsName(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '') || 'asa-bench'
  );
}
