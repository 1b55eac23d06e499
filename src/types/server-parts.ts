/**
 * What reports and analysis call the parts of the server under test, from the
 * recorded server spec: the CRD-only server is not kube-apiserver and kine is
 * not etcd, and with tenants=N each API server is one tenant of N.
 */
import type { RunInfo } from './results.js';

export interface PartNames {
  /** The API server whose samples the run's series holds (tenant 1's with tenants=N). */
  apiserver: string;
  storage: string;
}

/** The name of one API server of the run (1-based tenant index; tenants=1: no tenant in the name). */
export function apiserverName(run: RunInfo | undefined, tenant = 1): string {
  const s = run?.server;
  const tenants = s?.tenants ?? 1;
  const base = s?.flavour === 'crd-only' ? 'CRD-only API server' : 'kube-apiserver';
  return tenants > 1 ? `${base} (tenant ${tenant} of ${tenants})` : base;
}

export function partNames(run: RunInfo | undefined): PartNames {
  return { apiserver: apiserverName(run), storage: run?.server?.storage === 'kine' ? 'kine' : 'etcd' };
}
