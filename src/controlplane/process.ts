/**
 * The processes of the local control plane: started in a process group of
 * their own with output to a log file, waited for with a readiness check that
 * fails fast (with the log's tail) when the process exits, and stopped with
 * SIGTERM, then SIGKILL after 5 s. Ports come from the kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { ControlPlaneError } from '../types/errors.js';
import { HEARTBEAT_MS } from './go.js';

/**
 * A binary of the control plane is missing or cannot be started: it must be
 * built first (the CLI says how). `specPart`: the part of the server spec that
 * asks for it (`storage=kine`), when it is not one every build makes.
 */
export class NotBuiltError extends ControlPlaneError {
  constructor(
    message: string,
    readonly specPart?: string,
  ) {
    super(message);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopProcess(pid: number | undefined): Promise<void> {
  if (pid === undefined || !isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function launch(binary: string, args: string[], logFile: string, detached: boolean): Promise<ChildProcess> {
  const log = await open(logFile, 'a');
  // Always a process group of its own: a Ctrl-C in the terminal goes to asa-bench, which
  // stops the run, cleans up, and only then stops the control plane it started.
  const child = spawn(binary, args, { stdio: ['ignore', log.fd, log.fd], detached: true });
  // Listen before any await: 'spawn' fires on the next tick.
  const started = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err) => reject(new NotBuiltError(`cannot start ${binary}: ${err.message}`)));
  });
  await log.close();
  await started;
  if (detached) child.unref();
  return child;
}

/** Polls `check` until it holds; `onWait` hears how long it has waited, every HEARTBEAT_MS. */
export async function waitFor(what: string, logFile: string, child: ChildProcess, timeoutMs: number, check: () => Promise<boolean>, onWait?: (waitedMs: number) => void): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let beats = 0;
  while (Date.now() < deadline) {
    if (onWait && Date.now() - started >= (beats + 1) * HEARTBEAT_MS) onWait((++beats) * HEARTBEAT_MS);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ControlPlaneError(`${path.basename(child.spawnfile)} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}:\n${await tail(logFile)}`);
    }
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new ControlPlaneError(`timed out after ${timeoutMs / 1000}s waiting for ${what}:\n${await tail(logFile)}`);
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
