/**
 * The asa-bench command line. The only layer that prints or decides exit
 * codes: everything below returns values or throws typed errors, and one
 * top-level handler turns those into a message, a hint and an exit code.
 * stdout carries data (tables, JSON, YAML); stderr carries progress and logs.
 */
import yargs, { type Argv } from 'yargs';
import { AsaError, ExitCode } from '../types/errors.js';
import { loadCommands } from './commands.js';
import { describeError } from './errors.js';
import { TOOL_VERSION } from './version.js';
import { Output } from './output.js';

const EXIT_CODES = `Exit codes:
  0    success
  1    an SLO was missed (run) or a regression was found (compare, ab)
  2    bad input: scenario file, flags or arguments (nothing touched a server)
  3    target problem: kubeconfig, credentials, TLS, unreachable server, safety refusal
  4    the run failed or ended partial; cleanup left labelled objects behind
  5    the local control plane could not be built or started
  6    compare/ab: inconclusive, no row could be judged (all not comparable)
  70   internal error (a bug: please report it)
  130  interrupted (Ctrl-C / SIGTERM)`;

export async function main(argv: string[], out: Output = new Output()): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const setExit = (code: number) => {
    exitCode = code;
  };
  let commands;
  try {
    commands = await loadCommands(argv, out, setExit);
  } catch (err) {
    return handleError(err, out);
  }
  const parser: Argv = yargs(argv)
    .scriptName('asa-bench')
    .usage('$0 <command> [options]\n\nCRD-scale load testing for the Kubernetes API server.')
    .command(commands)
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .recommendCommands()
    .epilogue(EXIT_CODES)
    .version(TOOL_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, error) => {
      // yargs wraps what an option's coerce throws (e.g. a bad duration) in a YError: still a usage error.
      if (error && error.name !== 'YError') throw error;
      const hint = `see asa-bench ${commandOf(argv, commands)}--help`;
      if (error) throw new AsaError(error.message, ExitCode.usage, hint);
      throw new AsaError(message ?? 'invalid arguments', ExitCode.usage, hint);
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    return handleError(err, out);
  }
  return exitCode;
}

/** `ab ` when the command line names a command (its first word), else nothing. */
function commandOf(argv: readonly string[], commands: readonly { command?: string | readonly string[] }[]): string {
  const word = argv.find((a) => !a.startsWith('-'));
  return commands.some((c) => typeof c.command === 'string' && c.command.split(' ')[0] === word) ? `${word} ` : '';
}

function handleError(err: unknown, out: Output): number {
  if (err instanceof AsaError) {
    const { message, hint } = describeError(err);
    out.error(`asa-bench: ${message}`);
    if (hint) out.error(`hint: ${hint}`);
    return err.exitCode;
  }
  out.error(`asa-bench: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  out.error('This is a bug in asa-bench; please report it with the command you ran.');
  return ExitCode.internal;
}
