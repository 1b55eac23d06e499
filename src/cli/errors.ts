/**
 * The CLI's words for the typed errors of the parts below it. Those carry
 * facts (a safety ceiling was hit, no kubeconfig was found, a binary is not
 * built) and name no command or flag (test/cli/words.test.ts holds them to
 * that); which flag to pass or command to run is said here, once for every
 * command.
 *
 * Matched by name, with type-only imports: main.ts loads this for every
 * command, and the parts' modules (client-node, the engine) load only with
 * the command that needs them.
 */
import { formatProblem, type AsaError, type InputError, type InputProblem } from '../types/errors.js';
import type { NoiseInputError } from '../compare/noise.js';
import type { NotBuiltError } from '../controlplane/process.js';
import type { AlreadyUpError } from '../controlplane/server-up.js';
import type { UnchosenTargetError } from '../kube/target.js';
import type { JobTimeoutError, PodCannotStartError } from '../distribute/orchestrate.js';
import type { NoCompletionIndexError, NotInPodError } from '../distribute/worker.js';

/** What the CLI prints for an error: `asa-bench: <message>` and `hint: <hint>`. */
export interface ErrorWords {
  message: string;
  hint?: string;
}

/** `err` as the typed error of that name, else undefined (a type guard would narrow the other branch to never: most of these add no field). */
function asNamed<T extends AsaError>(err: AsaError, name: string): T | undefined {
  return err.name === name ? (err as T) : undefined;
}

/** One scenario problem as the CLI prints it (a ceiling says how to lift it). */
export function describeProblem(p: InputProblem): string {
  return formatProblem(p.ceiling ? { ...p, message: `${p.message} (pass --allow-huge if you mean it)` } : p);
}

/** The message and hint the CLI prints for `err`. */
export function describeError(err: AsaError): ErrorWords {
  return { message: messageOf(err), ...optional(hintOf(err)) };
}

function optional(hint: string | undefined): { hint?: string } {
  return hint === undefined ? {} : { hint };
}

function messageOf(err: AsaError): string {
  const input = asNamed<InputError>(err, 'InputError');
  return input ? input.problems.map(describeProblem).join('\n') : err.message;
}

function hintOf(err: AsaError): string | undefined {
  const target = asNamed<UnchosenTargetError>(err, 'UnchosenTargetError');
  if (target) return target.lacks === 'kubeconfig' ? 'pass --kubeconfig PATH, set KUBECONFIG, or omit both to use the embedded local control plane' : 'pass --context NAME or set current-context in the kubeconfig';
  const notBuilt = asNamed<NotBuiltError>(err, 'NotBuiltError');
  if (notBuilt) return notBuilt.specPart ? `build it first: asa-bench server build --server VERSION,${notBuilt.specPart}` : 'run `asa-bench server build` first';
  if (asNamed<AlreadyUpError>(err, 'AlreadyUpError')) return 'run `asa-bench server down` first';
  const noise = asNamed<NoiseInputError>(err, 'NoiseInputError');
  if (noise) return noise.lacks === 'runs' ? 'use --repeat 5 or more' : 'pass the noise.json written by `asa-bench calibrate`';
  if (asNamed<NoCompletionIndexError>(err, 'NoCompletionIndexError')) return 'distribute-worker runs in the pods of an Indexed Job; elsewhere pass --index K (0-based)';
  if (asNamed<NotInPodError>(err, 'NotInPodError')) return "distribute-worker uses the pod's service account; elsewhere pass --kubeconfig";
  const pod = asNamed<PodCannotStartError>(err, 'PodCannotStartError');
  if (pod) return pod.image ? 'build the image from the Dockerfile, push it where the cluster can pull it, and pass it as --image' : undefined;
  if (asNamed<JobTimeoutError>(err, 'JobTimeoutError')) return 'raise --timeout, or look at the pods while they run (--keep keeps them afterwards)';
  return err.hint;
}
