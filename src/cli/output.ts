/**
 * Where the CLI writes. stdout for data (tables, JSON, YAML) so it stays
 * parseable; stderr for progress, warnings and errors. Tests pass a capturing
 * instance instead of touching process streams.
 */
export class Output {
  constructor(
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
    readonly quiet = false,
  ) {}

  /** Data on stdout. */
  data(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Progress on stderr, timestamped relative to the start. */
  progress(message: string): void {
    if (this.quiet) return;
    this.clearStatus();
    this.stderr.write(`${stamp()} ${message}\n`);
  }

  /** stderr is a terminal: a status line can be rewritten in place. */
  get live(): boolean {
    return (this.stderr as NodeJS.WriteStream).isTTY === true;
  }

  /**
   * A line that replaces the previous status line on a terminal (the next
   * progress or error line takes its place); elsewhere an ordinary progress line.
   */
  status(message: string): void {
    if (this.quiet) return;
    if (!this.live) return this.progress(message);
    const columns = (this.stderr as NodeJS.WriteStream).columns ?? 120;
    const line = `${stamp()} ${message}`;
    this.stderr.write(`\r\x1b[2K${line.length > columns ? `${line.slice(0, columns - 1)}…` : line}`);
    this.statusShown = true;
  }

  /**
   * A progress report that repeats (a phase's counts every 2 s): on a terminal
   * the status line, updated in place; elsewhere (CI, pipes) an ordinary line,
   * at most one per `everyMs` for each `key`.
   */
  periodic(key: string, message: string, everyMs: number, now = performance.now()): void {
    if (this.quiet) return;
    if (this.live) return this.status(message);
    const last = this.lastPeriodic.get(key);
    if (last !== undefined && now - last < everyMs) return;
    this.lastPeriodic.set(key, now);
    this.progress(message);
  }

  private readonly lastPeriodic = new Map<string, number>();

  /**
   * The control plane's progress callback (controlplane/go.ts Progress): its
   * repeating reports (a build or a start still under way) in place on a
   * terminal, once a minute elsewhere; everything else as progress lines.
   */
  readonly reporter = (message: string, repeats?: string): void => {
    if (repeats === undefined) this.progress(message);
    else this.periodic(repeats, message, 60_000);
  };

  error(message: string): void {
    this.clearStatus();
    this.stderr.write(`${message}\n`);
  }

  private statusShown = false;

  private clearStatus(): void {
    if (!this.statusShown) return;
    this.stderr.write('\r\x1b[2K');
    this.statusShown = false;
  }
}

const started = performance.now();

function stamp(): string {
  return `[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}
