/**
 * Generated CustomResourceDefinitions. CRD i is a pure function of
 * (seed, runId, i): nothing is kept in memory, any index can be produced on
 * its own, and the same inputs give the same bytes.
 */
import { Random } from './random.js';
import { labelsFor } from './labels.js';

export const BENCH_DOMAIN = 'bench.asa.io';

/** Shape of each CRD version's OpenAPI v3 schema (scenario `generate.crds.schema`, defaults applied). */
export interface SpecSchemaShape {
  properties: number;
  depth: number;
  arrays: boolean;
  enums: boolean;
  validationRules: number;
}

/** What to generate: the scenario's `generate.crds` after validation and defaults (scenarios/schema.ts). */
export interface CrdShape {
  count: number;
  groups: number;
  versions: number;
  scope: 'Namespaced' | 'Cluster';
  schema: SpecSchemaShape;
}

export interface CrdSpecInput {
  seed: number;
  /** Unique per run so runs never collide (see run-id.ts). */
  runId: string;
  crds: CrdShape;
}

/** Where a generated CRD's objects live; what the engine needs to address them. */
export interface CrdRef {
  index: number;
  name: string;
  group: string;
  /** Served versions; the first is the storage version. */
  versions: string[];
  kind: string;
  plural: string;
  namespaced: boolean;
}

export type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: string[];
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  required?: string[];
  description?: string;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
};

export function crdRef(input: CrdSpecInput, index: number): CrdRef {
  const { crds, runId } = input;
  const groupIndex = index % crds.groups;
  const group = `g${pad(groupIndex, 4)}-${runId}.${BENCH_DOMAIN}`;
  const kind = `Bench${pad(index, 5)}`;
  const plural = `bench${pad(index, 5)}s`;
  const versions = Array.from({ length: crds.versions }, (_, v) => (v === 0 ? 'v1' : `v1beta${v}`));
  return { index, name: `${plural}.${group}`, group, versions, kind, plural, namespaced: crds.scope === 'Namespaced' };
}

/** The CRD manifest for index i. */
export function crdManifest(input: CrdSpecInput, index: number): Record<string, unknown> {
  const ref = crdRef(input, index);
  const random = new Random(input.seed, 'crd', index);
  const schema = specSchema(random, input.crds.schema);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: ref.name,
      labels: labelsFor(input.runId, index),
    },
    spec: {
      group: ref.group,
      scope: input.crds.scope,
      names: { kind: ref.kind, listKind: `${ref.kind}List`, plural: ref.plural, singular: ref.plural.slice(0, -1) },
      versions: ref.versions.map((name, v) => ({
        name,
        served: true,
        storage: v === 0,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: schema,
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      })),
    },
  };
}

export function* crdManifests(input: CrdSpecInput, from = 0, to = input.crds.count): Generator<Record<string, unknown>> {
  for (let i = from; i < to; i++) yield crdManifest(input, i);
}

/**
 * The spec schema: `payload` (the bulk of each object), then `properties`
 * generated fields, nested to `depth`, with arrays, enums and CEL rules as asked.
 */
export function specSchema(random: Random, shape: SpecSchemaShape): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    payload: { type: 'string', maxLength: 2_000_000, description: 'Filler sized by objects.sizeBytes.' },
    replicas: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  };
  for (let j = 0; j < shape.properties; j++) properties[`f${j}`] = property(random, shape, shape.depth, j);
  const rules: { rule: string; message: string }[] = [];
  for (let r = 0; r < shape.validationRules; r++) {
    rules.push(
      r === 0
        ? { rule: '!has(self.replicas) || self.replicas <= 1000000', message: 'replicas out of range' }
        : { rule: `!has(self.payload) || size(self.payload) >= ${r - 1}`, message: `payload shorter than ${r - 1}` },
    );
  }
  return {
    type: 'object',
    properties,
    ...(rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}),
  };
}

function property(random: Random, shape: SpecSchemaShape, depth: number, j: number): JsonSchema {
  const kinds: string[] = ['string', 'integer', 'boolean'];
  if (shape.enums) kinds.push('enum');
  if (depth > 0) kinds.push('object');
  if (depth > 0 && shape.arrays) kinds.push('array');
  const kind = random.pick(kinds);
  switch (kind) {
    case 'string':
      return { type: 'string', maxLength: 256, description: `generated field ${j}` };
    case 'integer':
      return { type: 'integer', minimum: 0, maximum: 1_000_000 };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: ['Alpha', 'Beta', 'Gamma', 'Delta'].slice(0, 2 + random.int(3)) };
    case 'object': {
      const properties: Record<string, JsonSchema> = {};
      const n = 2 + random.int(4);
      for (let k = 0; k < n; k++) properties[`n${k}`] = property(random, shape, depth - 1, k);
      return { type: 'object', properties };
    }
    default: {
      const properties: Record<string, JsonSchema> = {};
      for (let k = 0; k < 3; k++) properties[`i${k}`] = property(random, shape, Math.max(0, depth - 2), k);
      return { type: 'array', maxItems: 16, items: { type: 'object', properties } };
    }
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
