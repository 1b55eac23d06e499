/**
 * Running the go command for the control-plane builds: progress from its
 * stderr, a ControlPlaneError with the tail of it on failure, and the newer
 * toolchain the module proxy serves when a module asks for one.
 */
import { spawn } from 'node:child_process';
import { ControlPlaneError } from '../types/errors.js';

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
}

/** Runs the go command; returns stdout; stderr lines become progress; failure is a ControlPlaneError with the tail. */
export function go(args: string[], cwd: string, progress: Progress, options: GoOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const stderrTail: string[] = [];
    const started = Date.now();
    const heartbeat = options.heartbeat
      ? setInterval(() => progress(`${options.heartbeat}: ${waited(Date.now() - started)} so far (go ${args[0]})`, 'go'), HEARTBEAT_MS)
      : undefined;
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
      clearInterval(heartbeat);
      reject(new ControlPlaneError(`cannot run go: ${err.message}`, 'install Go 1.26 or newer; the local control plane is built from Go modules'));
    });
    child.on('close', (code) => {
      clearInterval(heartbeat);
      if (code === 0 || (options.allowFailure && stdout.trim() !== '')) resolve(stdout);
      else reject(new ControlPlaneError(`go ${args.slice(0, 2).join(' ')} failed in ${cwd} (exit ${code}):\n${stderrTail.join('\n')}`, 'check that the Go module proxy is reachable (go env GOPROXY)'));
    });
  });
}

