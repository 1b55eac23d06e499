/**
 * The results directory of a run: run.json (what ran, against what, how it
 * ended) and summary.json (per step ▸ phase ▸ operation, with encoded HDR
 * histograms). JSON files are written atomically (temp file + rename), so a
 * crash never leaves a half-written file.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunInfo, RunSummary } from '../types/results.js';

export const RUN_FILE = 'run.json';
export const SUMMARY_FILE = 'summary.json';

let tmpCounter = 0;

export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${tmpCounter++}`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** A fresh folder name: `<results>/<UTC timestamp>-<scenario>`. */
export function defaultRunDir(resultsRoot: string, scenarioName: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return path.join(resultsRoot, `${stamp}-${scenarioName}`);
}

export class ResultStore {
  /** Writes are serialized so a later version of a file never loses to an earlier one. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  private enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.queue.then(write);
    this.queue = next.catch(() => {});
    return next;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  writeRun(info: RunInfo): Promise<void> {
    return this.enqueue(() => writeJsonAtomic(path.join(this.dir, RUN_FILE), info));
  }

  writeSummary(summary: RunSummary): Promise<void> {
    const snapshot = JSON.stringify(summary, null, 2);
    return this.enqueue(() => writeFileAtomic(path.join(this.dir, SUMMARY_FILE), `${snapshot}\n`));
  }

  /** Copies the last `maxBytes` of each log file into `<dir>/logs/`. */
  async copyLogTails(fromDir: string, names: string[], maxBytes = 1_000_000): Promise<void> {
    await mkdir(path.join(this.dir, 'logs'), { recursive: true });
    for (const name of names) {
      const text = await readFile(path.join(fromDir, name)).catch(() => undefined);
      if (text) await writeFileAtomic(path.join(this.dir, 'logs', name), text.subarray(Math.max(0, text.length - maxBytes)).toString('utf8'));
    }
  }

  /** Appends lines to a series file as they arrive (a crash loses at most the last interval). */
  append(name: string, text: string): Promise<void> {
    return this.enqueue(() => appendFile(path.join(this.dir, name), text));
  }

  writeText(name: string, text: string): Promise<void> {
    return this.enqueue(() => writeFileAtomic(path.join(this.dir, name), text));
  }

  /** A binary file at a relative path (folders created), e.g. `profiles/step-1/heap.pb.gz`. */
  writeBytes(name: string, bytes: Uint8Array): Promise<void> {
    const file = path.join(this.dir, name);
    return this.enqueue(async () => {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, bytes);
    });
  }
}

export async function readRunDir(dir: string): Promise<{ run: RunInfo; summary: RunSummary }> {
  const run = JSON.parse(await readFile(path.join(dir, RUN_FILE), 'utf8')) as RunInfo;
  const summary = JSON.parse(await readFile(path.join(dir, SUMMARY_FILE), 'utf8')) as RunSummary;
  return { run, summary };
}
