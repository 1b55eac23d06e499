/**
 * Running the go command for the control-plane builds: progress from its
 * stderr, a ControlPlaneError with the tail of it on failure, and the newer
 * toolchain the module proxy serves when a module asks for one.
 */
import { spawn } from 'node:child_process';
import { ControlPlaneError } from '../types/errors.js';

export type Progress = (message: string) => void;

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
      reject(new ControlPlaneError(`cannot run go: ${err.message}`, 'install Go 1.26 or newer; the local control plane is built from Go modules'));
    });
    child.on('close', (code) => {
      if (code === 0 || (options.allowFailure && stdout.trim() !== '')) resolve(stdout);
      else reject(new ControlPlaneError(`go ${args.slice(0, 2).join(' ')} failed in ${cwd} (exit ${code}):\n${stderrTail.join('\n')}`, 'check that the Go module proxy is reachable (go env GOPROXY)'));
    });
  });
}

