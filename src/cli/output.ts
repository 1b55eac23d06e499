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
    const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
    this.stderr.write(`[${t}s] ${message}\n`);
  }

  error(message: string): void {
    this.stderr.write(`${message}\n`);
  }
}

const started = performance.now();
