/**
 * The last measured kube-apiserver memory per CRD, per scenario, on the local
 * control plane: written after a run, read by `plan` to project each step's
 * server memory before a run (and warn when this machine cannot hold the top
 * step). One small JSON file in the asa home, keyed by scenario name.
 */
import { readFile } from 'node:fs/promises';
import type { RunInfo, RunSummary } from '../types/results.js';
import { writeJsonAtomic } from './store.js';

export interface MemoryFigure {
  scenario: string;
  /** kube-apiserver's /version of the run that measured it. */
  serverVersion: string;
  /** Resident memory before the first CRD. */
  baseBytes: number;
  perCrdBytes: number;
  /** The CRD count the slope was measured up to. */
  crds: number;
  measuredAt: string;
}

/** A run's figure: resident memory per CRD between the first sample (no CRDs yet) and its largest CRD count; undefined below 100 CRDs. */
export function memoryFigureOf(run: RunInfo, summary: RunSummary): MemoryFigure | undefined {
  const base = summary.serverSeries?.find((s) => s.rssBytes > 0);
  const withServer = summary.phases.filter((p) => p.server && p.server.rssBytes > 0);
  if (!base || withServer.length === 0 || !run.target.local) return undefined;
  // The projection is for one kube-apiserver: the CRD-only server or several tenants would mislead it.
  if ((run.server?.flavour ?? 'full') !== 'full' || (run.server?.tenants ?? 1) > 1) return undefined;
  const top = Math.max(...withServer.map((p) => p.crds));
  if (top - base.crds < 100) return undefined;
  const rss = Math.max(...withServer.filter((p) => p.crds === top).map((p) => p.server!.rssBytes));
  return {
    scenario: run.scenario.name,
    serverVersion: run.target.version.gitVersion,
    baseBytes: base.rssBytes,
    perCrdBytes: Math.round(Math.max(0, rss - base.rssBytes) / (top - base.crds)),
    crds: top,
    measuredAt: run.endedAt ?? run.startedAt,
  };
}

export async function readMemoryFigures(file: string): Promise<Record<string, MemoryFigure>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, MemoryFigure>;
  } catch {
    return {};
  }
}

export async function recordMemoryFigure(file: string, figure: MemoryFigure): Promise<void> {
  const all = await readMemoryFigures(file);
  all[figure.scenario] = figure;
  await writeJsonAtomic(file, all);
}
