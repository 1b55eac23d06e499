/**
 * scripts/ensure-test-tools.sh (run by `npm test`) installs from Debian what
 * the tests call when it is missing: openssl and chromium. Run here on a PATH
 * without openssl, with an apt-get that records what it was asked (the real one
 * would install system packages from inside a unit test).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

let bin: string;
const which = (cmd: string) => execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  bin = await mkdtemp(path.join(os.tmpdir(), 'asa-bench-tools-'));
  for (const cmd of ['bash', 'id']) await symlink(which(cmd), path.join(bin, cmd));
  const recorder = `#!${which('bash')}\necho "$*" >> "${bin}/calls"\n`;
  for (const cmd of ['apt-get', 'sudo']) {
    await writeFile(path.join(bin, cmd), cmd === 'sudo' ? `${recorder}exec "$@"\n` : recorder);
    await chmod(path.join(bin, cmd), 0o755);
  }
});

afterAll(async () => {
  await rm(bin, { recursive: true, force: true });
});

function ensure(env: Record<string, string>) {
  return spawnSync(path.join(bin, 'bash'), [path.join(ROOT, 'scripts/ensure-test-tools.sh')], { env: { PATH: bin, ...env }, encoding: 'utf8' });
}

describe('ensure-test-tools.sh', () => {
  it('installs openssl when it is missing, and chromium when its binary is', async () => {
    const r = ensure({ ASA_CHROMIUM: path.join(bin, 'no-chromium') });
    expect(r.status, r.stderr).toBe(0);
    const calls = await readFile(path.join(bin, 'calls'), 'utf8');
    expect(calls).toMatch(/^update -qq$/m);
    expect(calls).toMatch(/^install -y -qq chromium fonts-liberation openssl$/m);
  });

  it('does nothing when both are there', async () => {
    await rm(path.join(bin, 'calls'), { force: true });
    await symlink(which('bash'), path.join(bin, 'openssl'));
    const r = ensure({ ASA_CHROMIUM: path.join(bin, 'bash') });
    expect(r.status, r.stderr).toBe(0);
    expect(spawnSync('test', ['-e', path.join(bin, 'calls')]).status).not.toBe(0);
  });
});
