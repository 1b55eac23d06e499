/**
 * Times on the command line take kubectl-style durations; junk is one line and
 * exit 2. Through the built CLI, with --dry-run (no server).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('duration flags', () => {
  it.each([
    ['run', 'scenarios/smoke.yaml', '--dry-run', '--request-timeout'],
    ['compare', 'results/x', 'results/y', '--p99-floor-ms'],
    ['distribute', 'scenarios/smoke.yaml', '--workers', '2', '--image', 'x', '--dry-run', '--timeout'],
  ])('%s rejects a junk %s value with one line and exit 2', async (...args) => {
    const flag = args[args.length - 1]!;
    for (const junk of ['30 seconds', 'soon', '-5s', '1d']) {
      // --flag=value: a value starting with - would otherwise read as flags.
      const r = await runCli([...args.slice(0, -1), `${flag}=${junk}`]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`asa-bench: ${flag} "${junk}": expected a duration such as 500ms, 30s, 1m30s or 1h`);
      expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
      expect(r.stdout).toBe('');
    }
  });

  it('run accepts 30s, 1m30s, 500ms and bare seconds', async () => {
    for (const value of ['30s', '1m30s', '500ms', '60']) {
      const r = await runCli(['run', 'scenarios/smoke.yaml', '--dry-run', '--request-timeout', value]);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it('distribute turns --timeout 90m into activeDeadlineSeconds 5400 and hands --request-timeout 1m30s to the workers', async () => {
    const r = await runCli(['distribute', 'scenarios/smoke.yaml', '--workers', '2', '--image', 'x', '--dry-run', '--timeout', '90m', '--request-timeout', '1m30s']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('activeDeadlineSeconds: 5400');
    expect(r.stdout).toMatch(/- --request-timeout\n\s+- 1m30s\n/);
  });

  it('a timeout of zero is refused', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--dry-run', '--request-timeout', '0s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--request-timeout 0s: must be at least 1ms');
  });
});
