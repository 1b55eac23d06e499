/**
 * Generated custom objects. Object j of CRD i is a pure function of
 * (seed, runId, i, j): lazy, random-access, and byte-for-byte repeatable.
 */
import type { CrdRef } from './crds.js';
import { labelsFor, namespaceName } from './labels.js';
import { Random } from './random.js';

/** What to generate: the scenario's `generate.objects` after validation and defaults (scenarios/schema.ts). */
export interface ObjectShape {
  perCRD: number;
  sizeBytes: number;
  namespaces: number;
  labelValues: number;
}

export interface ObjectSpecInput {
  seed: number;
  runId: string;
  objects: ObjectShape;
}

export interface ObjectRef {
  crd: CrdRef;
  index: number;
  name: string;
  /** Undefined for cluster-scoped CRDs. */
  namespace: string | undefined;
}

export function objectRef(input: ObjectSpecInput, crd: CrdRef, index: number): ObjectRef {
  return {
    crd,
    index,
    name: `obj-${String(index).padStart(6, '0')}`,
    namespace: crd.namespaced ? namespaceName(input.runId, index % input.objects.namespaces) : undefined,
  };
}

export function objectManifest(input: ObjectSpecInput, ref: ObjectRef): Record<string, unknown> {
  const random = new Random(input.seed, `obj-${ref.crd.index}`, ref.index);
  const metadata: Record<string, unknown> = {
    name: ref.name,
    // Shard values advance once per round of namespaces, so every namespace holds every shard
    // value evenly (a selector in one namespace selects 1/labelValues of it).
    labels: labelsFor(input.runId, Math.floor(ref.index / input.objects.namespaces), input.objects.labelValues),
  };
  if (ref.namespace !== undefined) metadata.namespace = ref.namespace;
  return {
    apiVersion: `${ref.crd.group}/${ref.crd.versions[0]}`,
    kind: ref.crd.kind,
    metadata,
    spec: { replicas: random.int(100), payload: random.text(input.objects.sizeBytes) },
  };
}

/** The namespaces objects are spread over, in creation order. */
export function objectNamespaces(input: ObjectSpecInput): string[] {
  return Array.from({ length: input.objects.namespaces }, (_, k) => namespaceName(input.runId, k));
}

export function* objectManifests(input: ObjectSpecInput, crds: Iterable<CrdRef>, perCrd = input.objects.perCRD): Generator<Record<string, unknown>> {
  for (const crd of crds) {
    for (let j = 0; j < perCrd; j++) yield objectManifest(input, objectRef(input, crd, j));
  }
}
