/**
 * `asa-bench merge <run-dirs...> --out DIR`: combines the results of
 * `asa-bench run --shard i/N` (i = 1..N) into one results directory that
 * `report` and `compare` read like any run. The rules are in src/shard/merge.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { renderRunJson } from '../reporters/json.js';
import { renderPhaseTable } from '../reporters/table.js';
import { readRunDir, ResultStore, RUN_FILE } from '../results/store.js';
import { INTERVALS_FILE, writeFinishedRun } from '../results/writer.js';
import { mergeShards, shardProblems, type ShardProblem, type ShardRun } from '../shard/merge.js';
import { ExitCode, UsageError } from '../types/errors.js';
import type { Output } from './output.js';

export interface MergeArgs {
  'run-dirs': string[];
  out: string;
  force: boolean;
  json: boolean;
}

export function mergeCommand(out: Output, setExit: (code: number) => void): CommandModule {
  return {
    command: 'merge <run-dirs...>',
    describe: 'Merge the results of `run --shard i/N` (every shard of one scenario) into one results directory',
    builder: (y) =>
      y
        .positional('run-dirs', { type: 'string', array: true, demandOption: true, describe: 'results directories of the shards' })
        .option('out', { type: 'string', demandOption: true, describe: 'results directory to write the merged run to' })
        .option('force', { type: 'boolean', default: false, describe: 'merge even if the runs are not the shards 1..N of one scenario file' })
        .option('json', { type: 'boolean', default: false, describe: 'print the merged summary as JSON on stdout instead of a table' })
        .example('$0 merge results/*-smoke-shard*of3 --out results/smoke-merged', 'merge three shards'),
    handler: async (argv) => {
      setExit(await mergeRuns(argv as unknown as MergeArgs, out));
    },
  };
}

export async function mergeRuns(args: MergeArgs, out: Output): Promise<number> {
  const dirs = args['run-dirs'];
  if (dirs.length === 0) throw new UsageError('merge: name the results directories of the shards');
  const outDir = path.resolve(args.out);
  if (dirs.some((d) => path.resolve(d) === outDir)) throw new UsageError(`merge: --out ${args.out} is one of the inputs`, 'write the merged run to a new folder');
  if (await stat(path.join(outDir, RUN_FILE)).then(() => true, () => false)) {
    throw new UsageError(`merge: ${args.out} already holds a run (run.json)`, 'choose a new --out folder');
  }
  const runs: ShardRun[] = await Promise.all(
    dirs.map(async (dir) => {
      const saved = await readRunDir(dir).catch((err: Error) => {
        throw new UsageError(`${dir}: not a readable results directory (${err.message})`, 'pass folders written by `asa-bench run --shard i/N`');
      });
      return { dir: path.resolve(dir), ...saved };
    }),
  );
  const problems = shardProblems(runs);
  if (problems.length > 0 && !args.force) {
    throw new UsageError(`merge: these runs are not the shards of one scenario:\n  ${problems.map(describeShardProblem).join('\n  ')}`, 'pass the folders of `asa-bench run --shard i/N` for i = 1..N of the same scenario file, or --force to merge anyway');
  }
  for (const p of problems) out.error(`warning (--force): ${describeShardProblem(p)}`);
  const merged = mergeShards(runs, { force: args.force });

  const store = new ResultStore(outDir);
  await store.init();
  const intervals = await mergeIntervals(runs);
  if (intervals) await store.writeText(INTERVALS_FILE, intervals);
  await writeFinishedRun(store, merged.run, merged.summary);

  out.data(args.json ? renderRunJson(merged.run, merged.summary.phases) : renderPhaseTable(merged.summary.phases));
  out.progress(`merged ${runs.length} runs (${merged.run.status}): ${store.dir}`);
  return ExitCode.ok;
}

/** One line for a reason the runs are not the shards of one scenario. */
export function describeShardProblem(p: ShardProblem): string {
  switch (p.kind) {
    case 'no-runs':
      return 'no runs to merge';
    case 'scenarios':
      return `the runs used different scenario files (${p.names.join(', ')}; ${p.sha256s} different sha256)`;
    case 'unsharded':
      return `not a shard run (no --shard): ${p.dirs.join(', ')}`;
    case 'splits':
      return `the runs are shards of different splits (of ${p.counts.join(', ')})`;
    case 'twice':
      return `shard ${p.index}/${p.count} given twice (${p.dirs[0]} and ${p.dirs[1]})`;
    case 'missing':
      return `missing shard(s) ${p.indexes.map((i) => `${i}/${p.count}`).join(', ')}`;
    case 'formats':
      return `the runs have different result format versions (${p.versions.join(', ')})`;
  }
}

/** The shards' intervals.csv on one time axis (from the earliest start), with a `shard` column. */
async function mergeIntervals(runs: readonly ShardRun[]): Promise<string | undefined> {
  const t0 = Math.min(...runs.map((r) => Date.parse(r.run.startedAt)));
  let header: string | undefined;
  const rows: { t: number; line: string }[] = [];
  for (const r of runs) {
    const text = await readFile(path.join(r.dir, INTERVALS_FILE), 'utf8').catch(() => undefined);
    if (!text) continue;
    const lines = text.split('\n').filter((l) => l.length > 0);
    header ??= `${lines[0]},shard`;
    const offset = (Date.parse(r.run.startedAt) - t0) / 1000;
    const shard = r.run.shard ? `${r.run.shard.index}/${r.run.shard.count}` : r.run.runId;
    for (const line of lines.slice(1)) {
      const comma = line.indexOf(',');
      const t = Math.round((Number(line.slice(0, comma)) + offset) * 10) / 10;
      rows.push({ t, line: `${t}${line.slice(comma)},${shard}` });
    }
  }
  if (header === undefined) return undefined;
  rows.sort((a, b) => a.t - b.t);
  return `${[header, ...rows.map((r) => r.line)].join('\n')}\n`;
}
