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
