/**
 * The commands, each loaded only when asked for: `asa-bench run` must not pay
 * for what `distribute` needs (@kubernetes/client-node alone is about 90 MB of
 * harness memory, which runs on the embedded control plane never need), and
 * `--version` should not load the engine. The listing in `--help` (or an
 * unknown command) loads them all.
 */
import type { CommandModule } from 'yargs';
import type { Output } from './output.js';

type SetExit = (code: number) => void;
type Commands = (out: Output, setExit: SetExit) => CommandModule[];

const LOADERS: Record<string, () => Promise<Commands>> = {
  run: async () => {
    const m = await import('./run.js');
    return (out, setExit) => [m.runCommand(out, setExit)];
  },
  validate: async () => {
    const m = await import('./validate.js');
    return (out, setExit) => [m.validateCommand(out, setExit), m.planCommand(out, setExit)];
  },
  generate: async () => {
    const m = await import('./generate.js');
    return (out, setExit) => [m.generateCommand(out, setExit)];
  },
  cleanup: async () => {
    const m = await import('./cleanup.js');
    return (out, setExit) => [m.cleanupCommand(out, setExit)];
  },
  report: async () => {
    const m = await import('./report.js');
    return (out, setExit) => [m.reportCommand(out, setExit)];
  },
  compare: async () => {
    const m = await import('./compare.js');
    return (out, setExit) => [m.compareCommand(out, setExit)];
  },
  ab: async () => {
    const m = await import('./ab.js');
    return (out, setExit) => [m.abCommand(out, setExit)];
  },
  calibrate: async () => {
    const m = await import('./calibrate.js');
    return (out, setExit) => [m.calibrateCommand(out, setExit)];
  },
  merge: async () => {
    const m = await import('./merge.js');
    return (out, setExit) => [m.mergeCommand(out, setExit)];
  },
  export: async () => {
    const m = await import('./export.js');
    return (out, setExit) => [m.exportCommand(out, setExit)];
  },
  distribute: async () => {
    const m = await import('./distribute.js');
    return (out, setExit) => [m.distributeCommand(out, setExit), m.distributeWorkerCommand(out, setExit)];
  },
  server: async () => {
    const m = await import('./server.js');
    return (out, setExit) => [m.serverCommands(out, setExit)];
  },
};

/** Command names that live in another command's module. */
const SAME_MODULE: Record<string, string> = { plan: 'validate', 'distribute-worker': 'distribute' };

/**
 * The command modules `argv` needs: the one its command word names, or all of
 * them when it names none (help, --version, a typo to recommend against).
 */
export async function loadCommands(argv: readonly string[], out: Output, setExit: SetExit): Promise<CommandModule[]> {
  const word = argv.find((a) => !a.startsWith('-'));
  if (word === undefined && argv.includes('--version')) return [];
  const name = word === undefined ? undefined : (SAME_MODULE[word] ?? word);
  const wanted = name !== undefined && Object.hasOwn(LOADERS, name) ? [name] : Object.keys(LOADERS);
  const builders = await Promise.all(wanted.map((n) => LOADERS[n]!()));
  return builders.flatMap((build) => build(out, setExit));
}
