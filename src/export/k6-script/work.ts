/**
 * What an exported k6 script carries from the plan: per k6 scenario, the
 * asa-bench phase and what each iteration does. export/k6.ts computes it;
 * main.ts (bundled into the script) reads it. Types only, no runtime.
 */
import type { CrdShape } from '../../generators/crds.js';
import type { ObjectShape } from '../../generators/objects.js';

/** What one iteration of a phase (or of one mix entry) does; read by the script's runtime. */
export interface K6Work {
  kind:
    | 'create-crds'
    | 'create-objects'
    | 'create-extra'
    | 'patch'
    | 'get'
    | 'list'
    | 'discovery-aggregated'
    | 'discovery-legacy'
    | 'openapi'
    | 'delete-crds'
    | 'delete-objects';
  /** The engine's operation key, e.g. `list.cache`: the `name` tag of every request. */
  key: string;
  /** CRDs installed when the phase runs. */
  installed: number;
  /** CRDs that have their base objects when the phase runs. */
  withObjects: number;
  /** First CRD index (create crds, base objects) or first extra-object number (timed creates). */
  from: number;
  waitFor?: 'established' | 'discovery';
  consistency?: 'quorum' | 'cache';
  scope?: 'namespace' | 'all';
  pageSize?: number;
  labelSelector?: boolean;
  version?: 'v2' | 'v3' | 'v3-groups';
}

export interface K6PhaseWork {
  phase: string;
  entries: K6Work[];
  /** Entry index per iteration (mod length); `[0]` unless a mix. */
  wheel: number[];
}

export type K6Scenario = Record<string, unknown> & { executor: string; startTime: string; exec: string };

/** Generator inputs (scenario `seed` and `generate`), without the run id: the script reads that at run time. */
export interface K6Generate {
  seed: number;
  crds: CrdShape;
  objects: ObjectShape | null;
}

/** Everything scenario-specific in a script: export/k6.ts fills it in, main.ts runs it. */
export interface K6ScriptPlan {
  /** Run id used when ASA_RUN_ID is not set. */
  defaultRunId: string;
  /** Scenario `cleanup`: teardown deletes what the run created. */
  cleanup: boolean;
  generate: K6Generate;
  /** Per k6 scenario: the asa-bench phase and what each iteration does. */
  phases: Record<string, K6PhaseWork>;
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, string[]>;
}
