/**
 * The storage process's own /metrics (etcd serves them on its client URL,
 * kine on its --metrics-bind-address): memory and CPU of the one process every
 * API server of the control plane writes to, and etcd's database size.
 */
import { request } from 'undici';
import { hasSamples, parsePrometheusText, sumSamples } from './prometheus.js';

export interface StorageSnapshot {
  rssBytes: number;
  cpuSeconds: number;
  /** etcd_mvcc_db_total_size_in_bytes (etcd only). */
  dbSizeBytes?: number;
}

const FAMILIES = new Set(['process_resident_memory_bytes', 'process_cpu_seconds_total', 'etcd_mvcc_db_total_size_in_bytes']);

export function storageSnapshotFromMetrics(text: string): StorageSnapshot {
  const { families } = parsePrometheusText(text, { families: FAMILIES });
  return {
    rssBytes: sumSamples(families, 'process_resident_memory_bytes'),
    cpuSeconds: sumSamples(families, 'process_cpu_seconds_total'),
    ...(hasSamples(families, 'etcd_mvcc_db_total_size_in_bytes') ? { dbSizeBytes: sumSamples(families, 'etcd_mvcc_db_total_size_in_bytes') } : {}),
  };
}

/** GET the storage's plain-HTTP loopback /metrics; throws on a failing status or transport error. */
export async function scrapeStorageMetrics(url: string, signal?: AbortSignal): Promise<StorageSnapshot> {
  const res = await request(url, { signal: signal ?? AbortSignal.timeout(10_000) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${res.statusCode}`);
  return storageSnapshotFromMetrics(text);
}
