/**
 * What a running scenario knows about the server-side state it created, so
 * phases can address existing objects without listing them first.
 */
import { crdRef, type CrdRef, type CrdSpecInput } from '../generators/crds.js';
import { objectRef, type ObjectRef, type ObjectSpecInput } from '../generators/objects.js';
import type { KubeClient } from '../kube/client.js';
import type { PhaseRecorder } from '../metrics/recorder.js';
import type { EstablishedWatch } from './established.js';

export interface RunState {
  /** CRDs 0..installed-1 were attempted; those in missingCrds failed. */
  installed: number;
  missingCrds: Set<number>;
  /** CRD creates whose POST failed (the CRD does not exist; a failed wait leaves it in place). */
  crdPostsFailed: number;
  /** Base objects (`<crd index>/<object index>`) whose create failed. */
  missingObjects: Set<string>;
  /** CRDs 0..withObjects-1 have their `perCRD` base objects. */
  withObjects: number;
  /** Objects created beyond the base ones (timed or repeated create phases). */
  extraObjects: number;
  /** Extra objects created so far per CRD index (they are numbered after the base ones). */
  extraPerCrd: Map<number, number>;
  namespacesReady: boolean;
}

export interface EngineContext {
  client: KubeClient;
  runId: string;
  local: boolean;
  crds: CrdSpecInput;
  objects?: ObjectSpecInput;
  state: RunState;
  /** The watch that tells when the run's CRDs are Established (when a phase waits for it). */
  crdWatch?: EstablishedWatch;
  /** Wait and retry on 429 + Retry-After (scenario `honorRetryAfter`). */
  honorRetryAfter?: boolean;
  /** False on a server without `/api` (the CRD-only server): no namespaces, no core discovery (capabilities.ts). */
  coreApi: boolean;
}

/** Everything a phase's operation needs: the context plus the phase's recorder. */
export interface OpContext extends EngineContext {
  recorder: PhaseRecorder;
}

const refCache = new Map<string, CrdRef>();

export function crdAt(ctx: EngineContext, index: number): CrdRef {
  const key = `${ctx.runId}/${index}`;
  let ref = refCache.get(key);
  if (!ref) {
    ref = crdRef(ctx.crds, index);
    if (refCache.size > 50_000) refCache.clear();
    refCache.set(key, ref);
  }
  return ref;
}

/** Number of CRDs that exist (attempted minus failed). */
export function liveCrdCount(ctx: EngineContext): number {
  return ctx.state.installed - ctx.state.missingCrds.size;
}

/** The i-th (mod count) CRD that exists: creates that failed or were dropped leave gaps to skip. */
export function liveCrdAt(ctx: EngineContext, i: number): CrdRef {
  const { installed, missingCrds } = ctx.state;
  if (missingCrds.size === 0) return crdAt(ctx, i % installed);
  let index = i % installed;
  for (let tries = 0; tries < installed && missingCrds.has(index); tries++) index = (index + 1) % installed;
  return crdAt(ctx, index);
}

/** The i-th existing base object, spread round-robin over CRDs that have objects; skips failed creates. */
export function baseObjectAt(ctx: EngineContext, i: number): ObjectRef | undefined {
  const { withObjects, missingCrds, missingObjects } = ctx.state;
  const perCrd = ctx.objects?.objects.perCRD ?? 0;
  if (!ctx.objects || withObjects === 0 || perCrd === 0) return undefined;
  const total = withObjects * perCrd;
  for (let k = i, tries = 0; tries < total; k++, tries++) {
    const crdIndex = k % withObjects;
    const j = Math.floor(k / withObjects) % perCrd;
    if (missingCrds.has(crdIndex) || missingObjects.has(`${crdIndex}/${j}`)) continue;
    return objectRef(ctx.objects, crdAt(ctx, crdIndex), j);
  }
  return undefined;
}

export function baseObjectCount(ctx: EngineContext): number {
  return ctx.state.withObjects * (ctx.objects?.objects.perCRD ?? 0);
}
