/**
 * How `--profile` and the scenario's `profile:` combine, and what the CLI
 * refuses before touching a server.
 */
import { describe, expect, it } from 'vitest';
import { profileConfig } from '../../src/cli/profile.js';
import { runCli } from '../helpers/cli.js';

describe('profileConfig', () => {
  it('--profile turns on CPU and heap profiles of kube-apiserver and etcd', () => {
    expect(profileConfig(true, undefined)).toEqual({ cpu: true, heap: true, sources: ['kube-apiserver', 'etcd'] });
    expect(profileConfig(true, false)).toEqual({ cpu: true, heap: true, sources: ['kube-apiserver', 'etcd'] });
  });
  it('without the flag the scenario decides', () => {
    expect(profileConfig(false, undefined)).toBeUndefined();
    expect(profileConfig(false, false)).toBeUndefined();
    expect(profileConfig(false, true)).toEqual({ cpu: true, heap: true, sources: ['kube-apiserver', 'etcd'] });
    expect(profileConfig(false, { cpu: false, heap: true, sources: ['kube-apiserver'] })).toEqual({ cpu: false, heap: true, sources: ['kube-apiserver'] });
    expect(profileConfig(false, { cpu: false, heap: false, sources: ['etcd'] })).toBeUndefined();
  });
});

describe('run --profile', () => {
  it('is refused with --threads, before any server is touched (exit 2)', async () => {
    const r = await runCli(['run', 'scenarios/smoke.yaml', '--profile', '--threads', '2', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--profile .* works with one load thread only/);
  });
  it('a misspelled profile key in a scenario is a positioned error', async () => {
    const r = await runCli(['validate', 'test/fixtures/scenarios/invalid/profile-typo.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/profile-typo\.yaml:\d+:\d+ .*profile/);
  });
});
