/**
 * Reading an Indexed Job and its pods: is it finished, what to show as
 * progress, and which pod problems will not fix themselves. Pure functions
 * over the API's JSON, so they are tested without a cluster.
 */
import { COMPLETION_INDEX_ANNOTATION, type KubeObject } from './manifests.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface JobObject extends KubeObject {
  spec?: { completions?: number; backoffLimitPerIndex?: number; [field: string]: unknown };
  status?: {
    active?: number;
    ready?: number;
    succeeded?: number;
    failed?: number;
    completedIndexes?: string;
    failedIndexes?: string;
    conditions?: Condition[];
  };
}

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string };
}

export interface PodObject extends KubeObject {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Condition[];
    containerStatuses?: { name: string; state?: ContainerState; restartCount?: number }[];
  };
}

export type JobOutcome = { state: 'running' } | { state: 'complete' } | { state: 'failed'; reason: string };

/** Finished when the Job controller says so: a Complete or Failed condition that is True. */
export function jobOutcome(job: JobObject): JobOutcome {
  const conditions = job.status?.conditions ?? [];
  const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  if (isTrue('Complete')) return { state: 'complete' };
  const failed = isTrue('Failed');
  if (failed) return { state: 'failed', reason: [failed.reason, failed.message].filter(Boolean).join(': ') || 'the Job failed' };
  return { state: 'running' };
}

/** The completion index of a pod of an Indexed Job, from the annotation the Job controller sets. */
export function completionIndexOf(pod: PodObject): number | undefined {
  const raw = pod.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** Indexes in the Job's compact form (`0,2-4`) → a sorted list. */
export function parseIndexes(text: string | undefined): number[] {
  if (!text) return [];
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    for (let i = from; i <= to; i++) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

/** What a pod is doing, in a word or two: its phase, or why its container waits. */
export function podState(pod: PodObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason)?.state?.waiting?.reason;
  if (waiting && waiting !== 'ContainerCreating') return waiting;
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) return 'Unschedulable';
  return pod.status?.phase ?? 'Unknown';
}

/** One progress line: the Job's counters and how many pods are in which state. */
export function describeProgress(job: JobObject, pods: readonly PodObject[], workers: number): string {
  const s = job.status ?? {};
  const counts = new Map<string, number>();
  for (const pod of pods) counts.set(podState(pod), (counts.get(podState(pod)) ?? 0) + 1);
  const podText = pods.length === 0 ? 'no pods yet' : [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([state, n]) => `${n} ${state}`).join(', ');
  return `${s.succeeded ?? 0}/${workers} shards succeeded, ${parseIndexes(s.failedIndexes).length || (s.failed ?? 0)} failed, ${s.active ?? 0} running (${s.ready ?? 0} ready); pods: ${podText}`;
}

/**
 * Container waits that do not end by waiting longer. Not ErrImagePull: a first
 * pull can fail by chance; the kubelet retries, and a pull that keeps failing
 * turns into ImagePullBackOff.
 */
const STUCK_REASONS = new Set(['ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError']);

/** A reason to stop waiting: a pod whose container cannot start (image cannot be pulled, bad configuration). */
export function stuckPod(pods: readonly PodObject[]): { pod: string; reason: string; message: string } | undefined {
  for (const pod of pods) {
    for (const c of pod.status?.containerStatuses ?? []) {
      const waiting = c.state?.waiting;
      if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) {
        return { pod: pod.metadata.name, reason: waiting.reason, message: waiting.message ?? '' };
      }
    }
  }
  return undefined;
}
