/**
 * What a running scenario knows about the server-side state it created, so
 * phases can address existing objects without listing them first.
 */
import { crdRef, type CrdRef, type CrdSpecInput } from '../generators/crds.js';
import { objectRef, type ObjectRef, type ObjectSpecInput } from '../generators/objects.js';
import type { KubeClient } from '../kube/client.js';
import type { PhaseRecorder } from '../metrics/recorder.js';

export interface RunState {
  /** CRDs 0..installed-1 exist. */
  installed: number;
  /** CRDs 0..withObjects-1 have their `perCRD` base objects. */
  withObjects: number;
  /** Objects created beyond the base ones (timed or repeated create phases). */
  extraObjects: number;
  namespacesReady: boolean;
}

export interface EngineContext {
  client: KubeClient;
  runId: string;
  local: boolean;
  crds: CrdSpecInput;
  objects?: ObjectSpecInput;
  state: RunState;
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

/** The i-th existing base object, spread round-robin over CRDs that have objects. */
export function baseObjectAt(ctx: EngineContext, i: number): ObjectRef | undefined {
  const { withObjects } = ctx.state;
  const perCrd = ctx.objects?.objects.perCRD ?? 0;
  if (!ctx.objects || withObjects === 0 || perCrd === 0) return undefined;
  const crd = crdAt(ctx, i % withObjects);
  return objectRef(ctx.objects, crd, Math.floor(i / withObjects) % perCrd);
}

export function baseObjectCount(ctx: EngineContext): number {
  return ctx.state.withObjects * (ctx.objects?.objects.perCRD ?? 0);
}
