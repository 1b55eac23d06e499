/**
 * The pod side of `distribute`: which shard this pod runs (from the Indexed
 * Job's JOB_COMPLETION_INDEX), how it reaches the API server from inside the
 * cluster, and turning its results directory into a ShardResult and back.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { writeFileAtomic } from '../results/store.js';
import { TargetError, UsageError } from '../types/errors.js';
import { RESULT_FILES, RESULT_FORMAT, type ShardResult } from './encode.js';

/** Where the kubelet mounts a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** No completion index: not in a pod of an Indexed Job, and none given (the CLI says how to give one). */
export class NoCompletionIndexError extends UsageError {}

/** No in-cluster service account: not in a pod, and no other kubeconfig given (the CLI says how to give one). */
export class NotInPodError extends TargetError {}

/**
 * The 1-based shard `i/N` for a 0-based completion index: `index` if given,
 * else JOB_COMPLETION_INDEX (set by the Job controller in every pod of an
 * Indexed Job). Throws UsageError when neither is a valid index.
 */
export function shardOfCompletionIndex(count: number, index: number | undefined, env: NodeJS.ProcessEnv = process.env): { index: number; count: number } {
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`shard count ${count}: expected a whole number of at least 1`);
  const raw = index !== undefined ? String(index) : env.JOB_COMPLETION_INDEX;
  if (raw === undefined || raw === '') {
    throw new NoCompletionIndexError('no shard index: JOB_COMPLETION_INDEX is not set');
  }
  const k = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(k) || k >= count) throw new UsageError(`completion index "${raw}": expected 0 ≤ index < ${count}`);
  return { index: k + 1, count };
}

export interface InClusterOptions {
  /** Prefix of SERVICE_ACCOUNT_DIR (tests point it at a folder of their own). */
  root?: string;
}

/**
 * Writes a kubeconfig for the in-cluster API server (KUBERNETES_SERVICE_HOST
 * and _PORT, the service account's CA and token, as client-node's
 * loadFromCluster reads them) into `dir` and returns its path. It holds file
 * paths only, no credentials: the token file is read by the kubeconfig loader
 * like any other. The kubelet rotates that file; a token it issued stays
 * valid far longer than it is kept (kube-apiserver extends the pod tokens it
 * issues to a year, --service-account-extend-token-expiration, on by default).
 */
export async function writeInClusterKubeconfig(dir: string, options: InClusterOptions = {}): Promise<string> {
  const root = options.root ?? '';
  if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT || !existsSync(`${root}${SERVICE_ACCOUNT_DIR}/token`)) {
    throw new NotInPodError(`not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT or ${root}${SERVICE_ACCOUNT_DIR}/token is missing`);
  }
  const kc = new KubeConfig();
  kc.loadFromCluster(root);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'in-cluster.kubeconfig');
  await writeFile(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** The result files of a finished `run --shard` as a ShardResult. */
export async function readShardResult(dir: string, shard: { index: number; count: number }, exitCode: number): Promise<ShardResult> {
  const files: ShardResult['files'] = {};
  for (const name of RESULT_FILES) {
    const text = await readFile(path.join(dir, name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && name === 'intervals.csv') return undefined;
      throw err;
    });
    if (text !== undefined) files[name] = text;
  }
  return { format: RESULT_FORMAT, shard, exitCode, files };
}

/** Writes a decoded ShardResult as a results directory that `merge`, `report` and `compare` read. */
export async function writeShardResult(dir: string, result: ShardResult): Promise<void> {
  await mkdir(dir, { recursive: true });
  // Only the known file names: the payload came from a pod's log.
  for (const name of RESULT_FILES) {
    const text = result.files[name];
    if (text !== undefined) await writeFileAtomic(path.join(dir, name), text);
  }
}
