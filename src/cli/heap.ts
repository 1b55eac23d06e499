/**
 * Sizing V8's heap for what a run holds (`run --heap auto`, the default).
 *
 * A run's live heap is tens of MB (histograms, prebuilt requests, open
 * watches), but V8 sizes its heap for the machine: on a 24 GB machine the
 * young generation grows to 3 × 16-32 MB and the old generation is let grow
 * to several times its live size between major GCs, while response Buffers
 * (memory outside the heap) wait for the GC of their small JS wrappers. Peak
 * RSS was 442 MB for watch-fanout and 583 MB for mixed-churn with a live heap
 * of 25-30 MB. On the local control plane that memory is taken from the server
 * under test.
 *
 * The flags are chosen from the plan: a young generation large enough for the
 * plan's allocation rate (requests and watch events per second), so that short-
 * lived objects still die young, and a smaller old-generation growing factor
 * instead of a hard limit (a hard `--max-old-space-size` would turn a wrong
 * estimate into an out-of-memory crash). They apply at start-up only, so the
 * CLI re-executes itself with them (`process.execve`: the same pid, signals and
 * stdio, no parent process left behind) before it starts anything.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { loadAt, type Plan, type PlannedPhase } from '../scenarios/plan.js';

/** Set in the re-executed process: the flags it was given (and that no second re-exec is needed). */
export const HEAP_ENV = 'ASA_BENCH_HEAP';

export interface HeapChoice {
  /** Node/V8 flags, e.g. `--max-semi-space-size=2`. */
  flags: string[];
  /** Why, in a few words, for the progress line and run.json. */
  why: string;
}

/** Peak requests per second the plan offers (open-model rates; a closed worker counted at 50/s, a 20 ms request). */
function peakRate(plan: Plan): number {
  let peak = 0;
  const visit = (phase: PlannedPhase) => {
    // A watch phase's "concurrency" is its watchers, counted apart.
    for (const step of phase.doc.op === 'watch' ? [] : plan.steps) {
      const load = loadAt(phase, step);
      const rate = load.model === 'open' ? Math.max(load.ratePerSecond, load.rampToPerSecond ?? 0) : load.concurrency * 50;
      peak = Math.max(peak, rate);
    }
    phase.companions.forEach(visit);
  };
  plan.phases.forEach(visit);
  return peak;
}

/** Watchers open at once at most (companions of one host run together). */
function peakWatchers(plan: Plan): number {
  let peak = 0;
  for (const host of plan.phases) {
    const group = [host, ...host.companions];
    peak = Math.max(peak, group.reduce((n, p) => n + (p.doc.op === 'watch' ? p.doc.watchers : 0), 0));
  }
  return peak;
}

export function chooseHeap(plan: Plan): HeapChoice {
  const rate = peakRate(plan);
  const watchers = peakWatchers(plan);
  const facts = `peak ${Math.round(rate)} requests/s offered, ${watchers} watchers`;
  // Semi-space (MB): 1 for most plans, more where objects are born fast (a semi-space too
  // small for the allocation rate promotes short-lived objects into the old generation).
  // Small plans too: smoke (20 CRDs, ~500 requests) peaked at 273 MB RSS on Node's sizing
  // with a live heap of ~40 MB, 142 MB with these flags (measured, issue 14).
  // Watchers never get 4: 10,000 watches under 20,000 events/s peaked at 318 MB RSS with 4,
  // 296 MB with 2 and 300 MB with 1 (bench:engine:watch, measured, issue 14).
  const semi = rate >= 2_000 ? 4 : rate >= 1_000 || watchers >= 1_000 ? 2 : 1;
  // After a major GC the old generation may grow to 1.5x its live size before the next one
  // (V8 picks 1.1-4x by its GC speed; a fast GC on a small heap gets the 4x).
  return { flags: [`--max-semi-space-size=${semi}`, '--heap-growing-percent=50'], why: facts };
}

/** Whether this process runs the asa-bench launcher (never re-execute a test runner or a host that imported the CLI). */
export function isLauncher(argv1 = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    const real = realpathSync(argv1);
    return path.basename(real) === 'asa-bench.js' && path.basename(path.dirname(real)) === 'bin';
  } catch {
    return false;
  }
}

/**
 * The environment of the re-executed process: glibc's malloc limited to two
 * arenas (it makes up to 8 per core, one per thread that allocates, and memory
 * freed in one is not reused by another: V8's GC and compiler threads and
 * libuv's pool each hold some). mixed-churn peaked at 240 MB RSS without, 210 MB
 * with (measured, issue 14). A value the user set is kept.
 */
export function heapEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.MALLOC_ARENA_MAX === undefined ? { ...env, MALLOC_ARENA_MAX: '2' } : { ...env };
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/**
 * Re-executes this process with the chosen flags (never returns then), or
 * returns why it did not: already sized, not the launcher, or no
 * process.execve (Node < 23.11).
 */
export function reexecWithHeap(choice: HeapChoice): string {
  if (process.env[HEAP_ENV] !== undefined) return `${process.env[HEAP_ENV]}`;
  if (choice.flags.length === 0) return `default (${choice.why})`;
  if (!isLauncher()) return 'default (not the asa-bench launcher)';
  const execve = (process as unknown as { execve?: Execve }).execve;
  if (typeof execve !== 'function') return `default (Node ${process.version} has no process.execve)`;
  const args = [process.execPath, ...choice.flags, ...process.execArgv, ...process.argv.slice(1)];
  execve(process.execPath, args, { ...heapEnv(process.env), [HEAP_ENV]: `${choice.flags.join(' ')} (${choice.why})` });
  return 'unreachable';
}
