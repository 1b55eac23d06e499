/**
 * `--server`/`--server-version` belong to the commands that build or start a
 * server (run, cleanup, calibrate, server). Elsewhere they were once global and
 * silently ignored: `ab --server X` ran whatever --baseline/--candidate said.
 * Through the built CLI, without a server.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('--server', () => {
  it.each([
    ['ab', 'scenarios/smoke.yaml', '--baseline', 'v1.37.2', '--candidate', 'v1.37.2'],
    ['compare', 'results/x', 'results/y'],
    ['report', 'results/x'],
    ['plan', 'scenarios/smoke.yaml'],
  ])('is refused by %s (exit 2), not ignored', async (...args) => {
    const r = await runCli([...args, '--server', 'v1.36.3']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('asa-bench: Unknown argument: server');
    // The hint names the command whose help lists what it takes.
    expect(r.stderr).toContain(`hint: see asa-bench ${args[0]} --help`);
    expect(r.stdout).toBe('');
  });

  it.each([['run'], ['cleanup'], ['calibrate'], ['server']])('is in the help of %s, and not in the help of report', async (command) => {
    expect((await runCli([command, '--help'])).stdout).toMatch(/--server\s+the server under test/);
    expect((await runCli(['report', '--help'])).stdout).not.toContain('--server');
  });

  it.each([
    ['server', 'build'],
    ['calibrate', 'scenarios/smoke.yaml', '--repeat', '2'],
  ])('still reaches %s: a bad spec is a usage error naming --server, before any build', async (...args) => {
    const r = await runCli([...args, '--server', 'v1.37.2,tenants=0']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('asa-bench: --server v1.37.2,tenants=0: tenants=0: expected a whole number from 1 to 16');
  });
});
