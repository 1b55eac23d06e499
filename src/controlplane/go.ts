/**
 * Running the go command for the control-plane builds: progress from its
 * stderr, a ControlPlaneError with the tail of it on failure, and the newer
 * toolchain the module proxy serves when a module asks for one.
 */
import { spawn } from 'node:child_process';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { ControlPlaneError, InterruptedError } from '../types/errors.js';

/**
 * Where the control plane reports what it does. `repeats` names a report that
 * repeats while something long runs (`still compiling … 1 min 20 s`): the CLI
 * shows it in place on a terminal and only now and then elsewhere.
 */
export type Progress = (message: string, repeats?: string) => void;

/** How often a long wait (a build, a server getting ready) says it is still waiting. */
export const HEARTBEAT_MS = 5_000;

/** `1 min 20 s`, `45 s`: how long a wait has lasted. */
export function waited(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The Go toolchain the proxy serves for modules that need a newer Go than the machine's. */
const NEWER_TOOLCHAIN = 'go1.27.3';

/** The `go` directive of a go.mod. */
export function goDirective(goMod: string): string | undefined {
  return /^go\s+(\d+\.\d+(?:\.\d+)?)\s*$/m.exec(goMod)?.[1];
}

/** Sets GOTOOLCHAIN when a module needs a newer Go than the machine's (the proxy serves that toolchain). */
export function toolchainEnv(required: string | undefined): Record<string, string> {
  if (!required) return {};
  const [major, minor] = required.split('.').map(Number);
  // Go 1.26 is what this project needs installed; a module asking for more gets the proxy's toolchain.
  if ((major ?? 1) > 1 || (minor ?? 0) > 26) return { GOTOOLCHAIN: NEWER_TOOLCHAIN };
  return {};
}

interface GoOptions {
  env?: Record<string, string>;
  quiet?: boolean;
  /** Resolve with stdout even on a non-zero exit (`go mod download -json` reports errors in its JSON). */
  allowFailure?: boolean;
  /** What the command does, said every HEARTBEAT_MS while it runs (`compiling kube-apiserver v1.37.2`). */
  heartbeat?: string;
  /** Ctrl-C: kills the go command and everything it started (compile, link); rejects with an InterruptedError. */
  signal?: AbortSignal;
}

/**
 * Runs the go command; returns stdout; stderr lines become progress; failure
 * is a ControlPlaneError with the tail. With a signal the command runs in a
 * process group of its own (detached), so that an abort (or this process
 * exiting) kills the whole group: go, and the compile and link processes it
 * started, which would otherwise go on for minutes after Ctrl-C. Without one
 * it stays in our group, where a terminal's Ctrl-C reaches it directly.
 */
export function go(args: string[], cwd: string, progress: Progress, options: GoOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new InterruptedError(`go ${args[0]} not started: interrupted`));
    const child = spawn('go', args, {
      cwd,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.signal !== undefined,
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined && options.signal) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    options.signal?.addEventListener('abort', killGroup, { once: true });
    // A third Ctrl-C exits at once: the group must not outlive us.
    process.once('exit', killGroup);
    let stdout = '';
    const stderrTail: string[] = [];
    const started = Date.now();
    const heartbeat = options.heartbeat
      ? setInterval(() => progress(`${options.heartbeat}: ${waited(Date.now() - started)} so far (go ${args[0]})`, 'go'), HEARTBEAT_MS)
      : undefined;
    const settle = () => {
      clearInterval(heartbeat);
      options.signal?.removeEventListener('abort', killGroup);
      process.off('exit', killGroup);
    };
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        stderrTail.push(line);
        if (stderrTail.length > 30) stderrTail.shift();
        if (!options.quiet && /^go: (downloading|finding)/.test(line)) progress(line.replace(/^go: /, ''));
      }
    });
    child.on('error', (err) => {
      settle();
      reject(new ControlPlaneError(`cannot run go: ${err.message}`, 'install Go 1.26 or newer; the local control plane is built from Go modules'));
    });
    child.on('close', (code) => {
      settle();
      if (options.signal?.aborted) reject(new InterruptedError(`go ${args[0]} was stopped after ${waited(Date.now() - started)}`));
      else if (code === 0 || (options.allowFailure && stdout.trim() !== '')) resolve(stdout);
      else reject(new ControlPlaneError(`go ${args.slice(0, 2).join(' ')} failed in ${cwd} (exit ${code}):\n${stderrTail.join('\n')}`, 'check that the Go module proxy is reachable (go env GOPROXY)'));
    });
  });
}

/**
 * Builds into a temporary path beside `output` and renames it there only when
 * the build succeeded; on failure or Ctrl-C the temporary path is removed, so
 * the cache never holds a half-written binary. `build` returns the file it
 * produced (the temporary path itself, or a file inside it for `go install`).
 */
export async function buildInto(output: string, what: string, build: (tmp: string) => Promise<string>): Promise<void> {
  const tmp = `${output}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(path.dirname(output), { recursive: true });
  try {
    await rename(await build(tmp), output);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    await rmdir(path.dirname(output)).catch(() => {}); // only when empty: a folder made for this build
    if (err instanceof InterruptedError) throw new InterruptedError(`the build of ${what} was stopped; nothing was written to ${path.dirname(output)}`);
    throw err;
  }
  await rm(tmp, { recursive: true, force: true }); // go install: the rest of GOBIN
}
