/**
 * `run --profile` (or `profile:` in the scenario): which sources to profile for
 * this target, and the probe that follows the run (src/profiles/probe.ts).
 */
import type { ExecuteOptions, RunEvent } from '../engine/run.js';
import { ProfileProbe } from '../profiles/probe.js';
import { apiserverSource, httpSource, type ProfileSource } from '../profiles/sources.js';
import type { Plan } from '../scenarios/plan.js';
import { ProfileSources, type ProfileDoc } from '../scenarios/schema.js';
import type { ResultStore } from '../results/store.js';
import type { ResolvedTarget } from './target.js';

export interface ProfileConfig {
  cpu: boolean;
  heap: boolean;
  sources: readonly (typeof ProfileSources)[number][];
}

/** `--profile` turns on everything; otherwise the scenario's `profile:` decides. */
export function profileConfig(flag: boolean | undefined, doc: ProfileDoc | undefined): ProfileConfig | undefined {
  if (flag) return { cpu: true, heap: true, sources: [...ProfileSources] };
  if (doc === undefined || doc === false) return undefined;
  if (doc === true) return { cpu: true, heap: true, sources: [...ProfileSources] };
  return doc.cpu || doc.heap ? doc : undefined;
}

/** Longest single CPU profile request; well under the profile client's timeout. */
const MAX_PROFILE_SECONDS = 30;

export interface RunProfiler {
  probe: ProfileProbe;
  /** Passed to executePlan. */
  hooks: Pick<ExecuteOptions, 'beforePhase' | 'afterPhases'>;
  /** Called with every run event. */
  follow(event: RunEvent): void;
}

export function createProfiler(
  config: ProfileConfig,
  plan: Plan,
  target: Pick<ResolvedTarget, 'connection' | 'etcdUrl'>,
  options: { http2?: boolean; store: ResultStore; signal: AbortSignal; onMessage: (message: string) => void },
): RunProfiler {
  const timeoutMs = (MAX_PROFILE_SECONDS + 60) * 1000;
  const sources: ProfileSource[] = [];
  const missing: { source: string; reason: string }[] = [];
  if (config.sources.includes('kube-apiserver')) sources.push(apiserverSource(target.connection, { timeoutMs, http2: options.http2 }));
  if (config.sources.includes('etcd')) {
    if (target.etcdUrl) sources.push(httpSource('etcd', 'etcd', target.etcdUrl, { timeoutMs }));
    else missing.push({ source: 'etcd', reason: 'etcd is profiled only on the local control plane (a remote cluster\'s etcd is not reachable from here)' });
  }
  const durations = new Map(plan.phases.map((p) => [p.name, p.durationMs]));
  const probe = new ProfileProbe({
    sources,
    cpu: config.cpu,
    heap: config.heap,
    durationOf: (phase) => durations.get(phase),
    maxProfileSeconds: MAX_PROFILE_SECONDS,
    signal: options.signal,
    write: (file, bytes) => options.store.writeBytes(file, bytes),
    onMessage: options.onMessage,
  });
  for (const m of missing) probe.markUnavailable(m.source, m.reason);
  return {
    probe,
    hooks: { beforePhase: (step, phase) => probe.beforePhase(step, phase), afterPhases: () => probe.afterPhases() },
    follow(event) {
      if (event.type === 'phase-start') probe.phaseStarted(event.phase);
      else if (event.type === 'phase-end') probe.phaseEnded(event.result.phase);
    },
  };
}
