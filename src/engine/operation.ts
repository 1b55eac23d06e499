/**
 * What a runner runs: one phase compiled to a histogram key, an iteration
 * function and the hooks around it. Built by ops.ts (requests) and watch.ts
 * (watchers); run by the load models (load-models.ts) under run.ts.
 */
import type { Iteration } from './load-models.js';

export interface Operation {
  /** Histogram key for whole iterations, e.g. `create.crds`, `list.quorum`. */
  key: string;
  /** The row that answers "how did this phase do" (SLOs, charts), when not `key` (watches: event latency). */
  primary?: string;
  /** Iterations when the work is defined by the generators (create, delete); else the phase's limits apply. */
  total?: number;
  iteration: Iteration;
  /** Runs before the first iteration (unmeasured setup, e.g. namespaces). */
  before?: () => Promise<void>;
  /** Called for an iteration that failed or was dropped (creates remember the gap). */
  failed?: (index: number) => void;
  /** Resolves when the operation is in place (all watches established); hosts wait for it. */
  ready?: Promise<void>;
  /** Updates the run state after the phase. */
  after?: (iterations: number) => void;
  /** Iterations in flight per stage they wait in (`waiting for Established`), for progress (in-flight.ts). */
  waiting?: () => Record<string, number> | undefined;
}
