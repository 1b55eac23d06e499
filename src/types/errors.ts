/**
 * Typed errors and exit codes. Everything below the CLI throws one of these;
 * only the CLI's single top-level handler turns them into messages and exit codes.
 * A user error carries a hint; only an InternalError asks for a bug report.
 */

export const ExitCode = {
  ok: 0,
  /** The run finished but an SLO failed, or `compare` found a regression. */
  regression: 1,
  /** Bad input: scenario file, flags or arguments. Nothing touched a server. */
  usage: 2,
  /** The target could not be used: kubeconfig, credentials, TLS, unreachable server, refused by the safety guard. */
  target: 3,
  /** The run started but ended failed or partial (server errors past the scenario's policy); `cleanup` left labelled objects behind. */
  runFailed: 4,
  /** The local control plane could not be built or started. */
  controlPlane: 5,
  /** `compare`/`ab`: no row could be judged (every row not comparable or on one side only), so no verdict. */
  inconclusive: 6,
  /** A bug in asa-bench. */
  internal: 70,
  /** Interrupted by Ctrl-C / SIGTERM. */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class AsaError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in a scenario file, with its position. */
export interface InputProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path inside the document, e.g. `phases[2].concurrency`. */
  path: string;
  message: string;
  /** A safety ceiling on counts and rates that the caller can lift (scenarios' `allowHuge`); the CLI says how. */
  ceiling?: true;
}

export function formatProblem(p: InputProblem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where} ${p.message}`;
}

/** Bad input; reports every problem found at once. */
export class InputError extends AsaError {
  constructor(
    readonly problems: readonly InputProblem[],
    hint?: string,
  ) {
    super(problems.map(formatProblem).join('\n'), ExitCode.usage, hint);
  }
}

export class UsageError extends AsaError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

export class TargetError extends AsaError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, ExitCode.target, hint, options);
  }
}

export class ControlPlaneError extends AsaError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, ExitCode.controlPlane, hint, options);
  }
}

export class RunFailedError extends AsaError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, ExitCode.runFailed, hint, options);
  }
}

export class InterruptedError extends AsaError {
  constructor(message = 'interrupted') {
    super(message, ExitCode.interrupted);
  }
}
