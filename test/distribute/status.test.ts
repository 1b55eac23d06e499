/**
 * Reading an Indexed Job and its pods (the JSON the API returns): when the
 * Job is finished, what progress says, which pod problems stop the wait, and
 * which pod's log holds shard k.
 */
import { describe, expect, it } from 'vitest';
import { COMPLETION_INDEX_ANNOTATION } from '../../src/distribute/manifests.js';
import { podForIndex, runIdInLog } from '../../src/distribute/orchestrate.js';
import { completionIndexOf, describeProgress, jobOutcome, parseIndexes, podState, stuckPod, type JobObject, type PodObject } from '../../src/distribute/status.js';

const job = (status: JobObject['status']): JobObject => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status });

function pod(name: string, index: number | undefined, status: PodObject['status'], created = '2026-01-01T00:00:00Z'): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(index !== undefined ? { annotations: { [COMPLETION_INDEX_ANNOTATION]: String(index) } } : {}), creationTimestamp: created } as PodObject['metadata'],
    status,
  };
}

describe('jobOutcome', () => {
  it('is finished only on a True Complete or Failed condition', () => {
    expect(jobOutcome(job(undefined))).toEqual({ state: 'running' });
    expect(jobOutcome(job({ succeeded: 3, conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }] }))).toEqual({ state: 'running' });
    expect(jobOutcome(job({ conditions: [{ type: 'Complete', status: 'True' }] }))).toEqual({ state: 'complete' });
    expect(jobOutcome(job({ conditions: [{ type: 'Failed', status: 'False' }] }))).toEqual({ state: 'running' });
    expect(jobOutcome(job({ conditions: [{ type: 'FailureTarget', status: 'True' }, { type: 'Failed', status: 'True', reason: 'FailedIndexes', message: 'Job has failed indexes' }] }))).toEqual({
      state: 'failed',
      reason: 'FailedIndexes: Job has failed indexes',
    });
  });
});

describe('progress', () => {
  it('counts shards from the Job and pods by what they are doing', () => {
    const pods = [
      pod('a', 0, { phase: 'Succeeded' }),
      pod('b', 1, { phase: 'Running' }),
      pod('c', 2, { phase: 'Pending', containerStatuses: [{ name: 'worker', state: { waiting: { reason: 'ImagePullBackOff' } } }] }),
      pod('d', 3, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }),
      pod('e', 4, { phase: 'Pending', containerStatuses: [{ name: 'worker', state: { waiting: { reason: 'ContainerCreating' } } }] }),
    ];
    expect(describeProgress(job({ succeeded: 1, active: 4, ready: 1, failedIndexes: '5-6' }), pods, 7)).toBe(
      '1/7 shards succeeded, 2 failed, 4 running (1 ready); pods: 1 ImagePullBackOff, 1 Pending, 1 Running, 1 Succeeded, 1 Unschedulable',
    );
    expect(describeProgress(job(undefined), [], 3)).toBe('0/3 shards succeeded, 0 failed, 0 running (0 ready); pods: no pods yet');
    expect(podState({ ...pod('t', 0, { phase: 'Running' }), metadata: { name: 't', deletionTimestamp: '2026-01-01T00:00:00Z' } })).toBe('Terminating');
  });

  it('reads the compact index lists of the Job status', () => {
    expect(parseIndexes('0,2-4,7')).toEqual([0, 2, 3, 4, 7]);
    expect(parseIndexes('')).toEqual([]);
    expect(parseIndexes(undefined)).toEqual([]);
  });
});

describe('stuckPod', () => {
  it('stops on image and configuration errors, not on a first failed pull or a pending pod', () => {
    const waiting = (reason: string, message = '') => [pod('p', 0, { phase: 'Pending', containerStatuses: [{ name: 'worker', state: { waiting: { reason, message } } }] })];
    expect(stuckPod(waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"'))).toEqual({ pod: 'p', reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' });
    expect(stuckPod(waiting('InvalidImageName'))?.reason).toBe('InvalidImageName');
    expect(stuckPod(waiting('CreateContainerConfigError'))?.reason).toBe('CreateContainerConfigError');
    expect(stuckPod(waiting('ErrImagePull'))).toBeUndefined();
    expect(stuckPod(waiting('ContainerCreating'))).toBeUndefined();
    expect(stuckPod([pod('q', 0, { phase: 'Running' })])).toBeUndefined();
  });
});

describe('which log holds shard k', () => {
  it('takes the pod of that completion index, a finished one first, the newest among equals', () => {
    const pods = [
      pod('old-failed', 1, { phase: 'Failed' }, '2026-01-01T00:00:00Z'),
      pod('ok', 1, { phase: 'Succeeded' }, '2026-01-01T00:00:01Z'),
      pod('zero', 0, { phase: 'Running' }),
      pod('other', undefined, { phase: 'Succeeded' }),
      pod('new-failed', 2, { phase: 'Failed' }, '2026-01-01T00:05:00Z'),
      pod('old-failed-2', 2, { phase: 'Failed' }, '2026-01-01T00:01:00Z'),
    ];
    expect(podForIndex(pods, 1)?.metadata.name).toBe('ok');
    expect(podForIndex(pods, 0)?.metadata.name).toBe('zero');
    expect(podForIndex(pods, 2)?.metadata.name).toBe('new-failed');
    expect(podForIndex(pods, 3)).toBeUndefined();
    expect(completionIndexOf(pods[3]!)).toBeUndefined();
  });

  it("finds the shard's run id in its log for a cleanup hint", () => {
    expect(runIdInLog('[   0.4s] run rk3x9q2m: will create 7 CRDs and 35 objects labelled asa-bench.io/run=rk3x9q2m\n')).toBe('rk3x9q2m');
    expect(runIdInLog('nothing here')).toBeUndefined();
  });
});
