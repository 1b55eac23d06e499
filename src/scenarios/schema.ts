/**
 * The scenario file schema, version 1. Defined once: the TypeScript types, the
 * validation and the committed JSON Schema (scenarios/scenario.schema.json, for
 * editor completion) all come from here. Descriptions become the JSON Schema's.
 *
 * Every object is strict: a misspelled key (`concurency:`) is an error, never
 * silently ignored.
 */
import { z } from 'zod';
import { DURATION_EXAMPLES, DURATION_PATTERN } from '../types/duration.js';

/** Ceilings that stop a typo from becoming an outage; `--allow-huge` lifts them (see limits.ts). */
export const SOFT_LIMITS = {
  crds: 20_000,
  objectsPerCrd: 10_000,
  concurrency: 5_000,
  ratePerSecond: 50_000,
  watchers: 20_000,
} as const;

const RATE = /^(\d+(?:\.\d+)?)\/(s|m)$/;
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const duration = z
  .string()
  .regex(DURATION_PATTERN, { error: `expected a duration such as ${DURATION_EXAMPLES}` })
  .describe('A duration as Go and kubectl write it: numbers with units ms, s, m or h (e.g. 30s, 1m30s).');

const rate = z
  .string()
  .regex(RATE, { error: 'expected a rate such as 200/s or 600/m' })
  .describe('An arrival rate: requests per second (200/s) or per minute (600/m).');

const count = (description: string) => z.int().min(0).describe(description);
const positive = (description: string) => z.int().min(1).describe(description);

export const CrdSchemaShape = z
  .strictObject({
    properties: count('Top-level properties in each version schema.').default(10),
    depth: count('Nesting depth of object properties (0 = flat).').max(8).default(2),
    arrays: z.boolean().default(true).describe('Include array-of-object properties.'),
    enums: z.boolean().default(true).describe('Include string properties with enum constraints.'),
    validationRules: count('x-kubernetes-validations (CEL) rules per version schema.').max(20).default(0),
  })
  .describe('Shape of the generated OpenAPI v3 schema of each CRD version.');

export const CrdGenerator = z
  .strictObject({
    count: positive('Total CRDs the scenario may install (the top of the sweep).'),
    groups: positive('Number of API groups the CRDs are spread over.').default(1),
    versions: positive('Served versions per CRD (the first is the storage version).').max(10).default(1),
    scope: z.enum(['Namespaced', 'Cluster']).default('Namespaced').describe('Scope of every generated CRD.'),
    schema: CrdSchemaShape.prefault({}),
  })
  .describe('Generated CustomResourceDefinitions.');

export const ObjectGenerator = z
  .strictObject({
    perCRD: count('Custom objects created per CRD by a `create of: objects` phase.').default(1),
    sizeBytes: count('Approximate serialized size of each object spec, in bytes.').max(1_000_000).default(512),
    namespaces: positive('Namespaces the objects are spread over (namespaced CRDs).').default(1),
    labelValues: positive('Distinct values of the `asa-bench.io/shard` label, for label-selector lists.').default(4),
  })
  .describe('Generated custom objects.');

const ramp = z
  .strictObject({ from: rate, to: rate })
  .describe('A ramping arrival rate: linear from `from` to `to` over the phase duration.');

const loadFields = {
  concurrency: positive('Closed model: this many concurrent workers, each sending its next request when the last returns.').optional(),
  rate: z
    .union([rate, ramp])
    .optional()
    .describe('Open model: requests started at this arrival rate (or ramp), latency measured from their scheduled start.'),
  maxInFlight: positive('Open model: cap on requests in flight; arrivals beyond it are counted as dropped.').optional(),
  repeat: positive('Number of requests this phase sends (per step).').optional(),
  duration: duration.optional().describe('Run this phase for this long (per step).'),
  during: z
    .string()
    .optional()
    .describe('Run alongside the named phase of the same step, starting and stopping with it.'),
};

const phaseName = z.string().regex(NAME, { error: 'expected a lowercase name (letters, digits, dashes)' });

const CreatePhase = z.strictObject({
  name: phaseName,
  op: z.literal('create'),
  of: z.enum(['crds', 'objects']).describe('What to create: CRDs (up to the step level) or custom objects.'),
  waitFor: z
    .enum(['established', 'discovery'])
    .optional()
    .describe('For CRDs: also measure and wait for the Established condition, or for the resource to appear in discovery.'),
  ...loadFields,
});

const PatchPhase = z.strictObject({
  name: phaseName,
  op: z.literal('patch'),
  of: z.literal('objects'),
  ...loadFields,
});

const DeletePhase = z.strictObject({
  name: phaseName,
  op: z.literal('delete'),
  of: z.enum(['crds', 'objects']),
  ...loadFields,
});

const ListPhase = z.strictObject({
  name: phaseName,
  op: z.literal('list'),
  of: z.literal('objects').default('objects'),
  consistency: z
    .enum(['quorum', 'cache'])
    .default('quorum')
    .describe('quorum: resourceVersion unset (read from etcd); cache: resourceVersion=0 (watch cache).'),
  pageSize: positive('Page size (`limit`); follow `continue` until the list is complete.').optional(),
  scope: z.enum(['namespace', 'all']).default('namespace').describe('List in one namespace or across all namespaces.'),
  labelSelector: z.boolean().default(false).describe('Select one value of the shard label instead of listing everything.'),
  ...loadFields,
});

const GetPhase = z.strictObject({
  name: phaseName,
  op: z.literal('get'),
  of: z.literal('objects').default('objects'),
  consistency: z.enum(['quorum', 'cache']).default('quorum'),
  ...loadFields,
});

const DiscoveryPhase = z.strictObject({
  name: phaseName,
  op: z.literal('discovery'),
  mode: z
    .enum(['aggregated', 'legacy-fanout'])
    .default('aggregated')
    .describe('aggregated: /api and /apis as apidiscovery.k8s.io/v2; legacy-fanout: /api, /apis and every group-version, as a cold-cache kubectl.'),
  ...loadFields,
});

const OpenApiPhase = z.strictObject({
  name: phaseName,
  op: z.literal('openapi'),
  version: z
    .enum(['v2', 'v3', 'v3-groups'])
    .default('v3')
    .describe('v2: /openapi/v2; v3: the /openapi/v3 index; v3-groups: the index and every group-version document.'),
  ...loadFields,
});

const WatchPhase = z.strictObject({
  name: phaseName,
  op: z.literal('watch'),
  of: z.literal('objects').default('objects'),
  watchers: positive('Concurrent watches, spread round-robin over the installed CRDs.'),
  during: z.string().optional().describe('Keep the watches open while the named phase runs.'),
  duration: duration.optional().describe('Keep the watches open this long (when not `during` another phase).'),
  transport: z
    .enum(['http2', 'http1'])
    .default('http2')
    .describe(
      'http2 (default): watches multiplexed as streams over a few connections, as client-go informers do (at most 100 streams per connection). http1: one TLS connection per watch.',
    ),
});

/** Fields of a phase that a mix entry does not have: the mix phase owns the name and the load. */
const NOT_IN_MIX = { name: true, concurrency: true, rate: true, maxInFlight: true, repeat: true, duration: true, during: true } as const;
const weight = { weight: positive('Relative share of this operation in the mix.').default(1) };

export const MixEntry = z.discriminatedUnion('op', [
  CreatePhase.omit(NOT_IN_MIX).extend({ of: z.literal('objects'), ...weight }),
  PatchPhase.omit(NOT_IN_MIX).extend(weight),
  ListPhase.omit(NOT_IN_MIX).extend(weight),
  GetPhase.omit(NOT_IN_MIX).extend(weight),
  DiscoveryPhase.omit(NOT_IN_MIX).extend(weight),
  OpenApiPhase.omit(NOT_IN_MIX).extend(weight),
]);

const MixPhase = z.strictObject({
  name: phaseName,
  op: z.literal('mix'),
  mix: z.array(MixEntry).min(1).describe('Weighted operations for steady-state traffic; each request picks one by weight.'),
  ...loadFields,
});

export const Phase = z.discriminatedUnion('op', [
  CreatePhase,
  PatchPhase,
  DeletePhase,
  ListPhase,
  GetPhase,
  DiscoveryPhase,
  OpenApiPhase,
  WatchPhase,
  MixPhase,
]);

export const Steps = z
  .strictObject({
    by: z
      .enum(['crds', 'concurrency', 'rate'])
      .describe('The swept variable: installed CRDs, or the offered load (workers, or arrivals per second) of every phase that sets none itself.'),
    at: z.array(count('The swept variable at this step.')).min(1).describe('Levels of the sweep, ascending.'),
  })
  .describe('Measure the same phases at each level of a swept variable.');

export const ProfileSources = ['kube-apiserver', 'etcd'] as const;

export const Profile = z
  .union([
    z.boolean(),
    z.strictObject({
      cpu: z.boolean().default(true).describe('CPU profiles while each phase runs.'),
      heap: z.boolean().default(true).describe('Heap profiles (in-use memory, after a GC) at the end of each step.'),
      sources: z
        .array(z.enum(ProfileSources))
        .min(1)
        .default([...ProfileSources])
        .describe('Processes to profile: kube-apiserver through the API (/debug/pprof/*), etcd on its client URL (local control plane).'),
    }),
  ])
  .describe('Take the servers\' pprof profiles and attribute them to components (also `run --profile`). `true` = CPU and heap of every source.');

export const Scenario = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1).describe('Scenario file format version.'),
    name: phaseName.describe('Scenario name; used in result folder names.'),
    description: z.string().optional(),
    seed: z.int().default(1).describe('Seed for every generator: the same seed gives the same objects.'),
    generate: z
      .strictObject({
        crds: CrdGenerator.optional(),
        objects: ObjectGenerator.optional(),
      })
      .prefault({}),
    steps: Steps.optional(),
    phases: z.array(Phase).min(1).describe('What to measure at each step, in order (unless `during`).'),
    slo: z
      .record(z.string().regex(/^[a-z0-9-]+\.(p50|p90|p99|p999|max)$/), duration)
      .optional()
      .describe('Latency objectives, e.g. `create.p99: 1s`; a miss makes the run exit 1.'),
    honorRetryAfter: z
      .boolean()
      .default(false)
      .describe('On a 429 with Retry-After, wait as told and retry (up to 3 times), as client-go does; each retry is counted.'),
    onError: z
      .enum(['continue', 'abort-phase', 'abort-run'])
      .default('continue')
      .describe('What a failed request does to the run.'),
    cleanup: z.boolean().default(true).describe('Delete everything the run created when it ends.'),
    stopWhen: z
      .record(
        z.string().regex(/^(serverMemory|errorRate|elapsed|[a-z0-9]([-a-z0-9]*[a-z0-9])?\.(p50|p90|p99|p999|max))$/),
        z.union([z.string(), z.number()]),
      )
      .optional()
      .describe(
        'Stop conditions: when one trips, the run measures the step it is in, skips the remaining steps, cleans up and ends complete with `stoppedAt`. Keys: `serverMemory` (16GiB, 800MiB, or 85% of the machine on the local control plane), `<phase>.p99` (a duration; also p50, p90, p999, max), `errorRate` (5% or 0.05), `elapsed` (wall-clock, e.g. 35m).',
      ),
    profile: Profile.optional(),
  })
  .describe('An asa-bench scenario.');

export type ScenarioInput = z.input<typeof Scenario>;
export type ScenarioDoc = z.output<typeof Scenario>;
export type PhaseDoc = z.output<typeof Phase>;
export type MixEntryDoc = z.output<typeof MixEntry>;
export type RateDoc = string | { from: string; to: string };
export type CrdGeneratorDoc = z.output<typeof CrdGenerator>;
export type ObjectGeneratorDoc = z.output<typeof ObjectGenerator>;
export type ProfileDoc = z.output<typeof Profile>;

export function parseRatePerSecond(text: string): number {
  const m = RATE.exec(text);
  if (!m) throw new Error(`not a rate: ${text}`);
  return m[2] === 's' ? Number(m[1]) : Number(m[1]) / 60;
}

/** Highest arrival rate of a constant or ramping rate, per second. */
export function peakRatePerSecond(rate: RateDoc): number {
  return typeof rate === 'string' ? parseRatePerSecond(rate) : Math.max(parseRatePerSecond(rate.from), parseRatePerSecond(rate.to));
}

/**
 * Whether a phase takes its load from a `steps: { by: concurrency|rate }` sweep:
 * request phases that set neither concurrency nor rate themselves.
 */
export function followsLoadStep(phase: PhaseDoc): boolean {
  if (phase.op === 'watch' || phase.op === 'delete' || (phase.op === 'create' && phase.of === 'crds')) return false;
  return phase.concurrency === undefined && phase.rate === undefined;
}
