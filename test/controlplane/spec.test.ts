/**
 * The server spec parser: every key's happy path, every way a spec is refused
 * (one UsageError naming all problems), the shorthands, and that the result is
 * frozen.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatServerSpec, parseServerSpec, SPEC_KEYS } from '../../src/controlplane/spec.js';
import { specFromFlags } from '../../src/cli/target.js';
import { DEFAULT_SERVER_VERSION } from '../../src/controlplane/paths.js';
import { ExitCode, UsageError } from '../../src/types/errors.js';

function refusal(text: string): UsageError {
  try {
    parseServerSpec(text);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as UsageError).message).not.toContain('\n');
    return err as UsageError;
  }
  throw new Error(`spec "${text}" was accepted`);
}

describe('parseServerSpec', () => {
  it('reads a release, with kube-controller-manager by default', () => {
    expect(parseServerSpec('v1.36.3')).toEqual({ given: 'v1.36.3', kind: 'version', version: 'v1.36.3', controllers: 'kcm', args: [], storage: 'etcd', flavour: 'full', tenants: 1 });
  });

  it('defaults to the default release when only options are given', () => {
    const spec = parseServerSpec('controllers=none');
    expect(spec).toMatchObject({ kind: 'version', version: DEFAULT_SERVER_VERSION, controllers: 'none' });
    expect(parseServerSpec('').version).toBe(DEFAULT_SERVER_VERSION);
  });

  it('reads source= and binary= as absolute paths, with version=', () => {
    expect(parseServerSpec('source=rel/k8s,version=v1.37.2')).toMatchObject({ kind: 'source', source: path.resolve('rel/k8s'), version: 'v1.37.2' });
    const bin = parseServerSpec('binary=/opt/kube-apiserver,controllers=none');
    expect(bin).toMatchObject({ kind: 'binary', binary: '/opt/kube-apiserver', controllers: 'none' });
    expect(bin.version).toBeUndefined();
    expect('version' in bin).toBe(false);
  });

  it('collects repeated arg= in order, keeping commas inside a flag value', () => {
    const spec = parseServerSpec('v1.37.2,arg=--watch-cache=false,arg=--feature-gates=A=true,B=false,controllers=none,arg=--admission-control=x,y');
    expect(spec.args).toEqual(['--watch-cache=false', '--feature-gates=A=true,B=false', '--admission-control=x,y']);
    expect(spec.controllers).toBe('none');
  });

  it('is frozen', () => {
    const spec = parseServerSpec('v1.37.2,arg=--watch-cache=false');
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.args)).toBe(true);
  });

  it('refuses unknown keys and items, naming the keys it knows', () => {
    const err = refusal('v1.37.2,contollers=none');
    expect(err.message).toContain('unknown key "contollers"');
    expect(err.message).toContain('controllers=');
    expect(refusal('1.37').message).toContain('unknown item "1.37"');
  });

  it('refuses bad values, every problem at once', () => {
    const err = refusal('source=/k8s,controllers=all,arg=watch-cache=false,version=latest');
    expect(err.message).toContain('controllers=all: expected kcm or none');
    expect(err.message).toContain('arg=watch-cache=false: expected a kube-apiserver flag');
    expect(err.message).toContain('version=latest: expected a Kubernetes release');
  });

  it('refuses two servers, a server not first, repeated keys, and empty items', () => {
    expect(refusal('source=/a,binary=/b').message).toContain('only one of source=, binary=');
    expect(refusal('controllers=none,source=/a').message).toContain('goes first');
    expect(refusal('controllers=none,v1.37.2').message).toContain('a release goes first');
    expect(refusal('v1.37.2,controllers=none,controllers=kcm').message).toContain('controllers= given twice');
    expect(refusal('v1.37.2,,controllers=none').message).toContain('empty item');
    expect(refusal('source=').message).toContain('source: expected a path');
  });

  it('every key in the table has a description and an example that parses', () => {
    for (const [name, key] of Object.entries(SPEC_KEYS)) {
      expect(key.describe.length, name).toBeGreaterThan(10);
      expect(key.example, name).toContain(`${name}=`);
      expect(() => parseServerSpec(key.example.replace('$HOME', '/home/me')), name).not.toThrow();
    }
  });

  it('formats back to a canonical spec that parses to the same thing', () => {
    for (const text of ['v1.37.2', 'v1.36.3,controllers=none,arg=--watch-cache=false', 'source=/k8s,version=v1.37.2,arg=--a=1', 'binary=/bin/kas', 'v1.37.2,tenants=3,storage=kine', 'v1.37.2,flavour=crd-only,arg=--max-requests-inflight=9']) {
      const spec = parseServerSpec(text);
      expect(parseServerSpec(formatServerSpec(spec))).toEqual({ ...spec, given: formatServerSpec(spec) });
    }
  });
});

describe('substituted components', () => {
  it('reads storage=, flavour= and tenants=, with etcd, full and 1 by default', () => {
    expect(parseServerSpec('v1.37.2,storage=kine,tenants=3')).toMatchObject({ storage: 'kine', flavour: 'full', tenants: 3, controllers: 'kcm' });
    expect(parseServerSpec('tenants=16')).toMatchObject({ version: DEFAULT_SERVER_VERSION, tenants: 16, storage: 'etcd' });
  });

  it('runs the CRD-only server without controllers, and says so only once in its canonical form', () => {
    const spec = parseServerSpec('v1.37.2,flavour=crd-only');
    expect(spec).toMatchObject({ flavour: 'crd-only', controllers: 'none' });
    expect(formatServerSpec(spec)).toBe('v1.37.2,flavour=crd-only');
    expect(formatServerSpec(parseServerSpec('v1.37.2,flavour=crd-only,controllers=none'))).toBe('v1.37.2,flavour=crd-only');
    expect(formatServerSpec(parseServerSpec('v1.37.2,tenants=2,storage=kine,flavour=crd-only'))).toBe('v1.37.2,storage=kine,flavour=crd-only,tenants=2');
  });

  it('refuses bad values and combinations in one line', () => {
    for (const bad of ['0', '-1', '17', '1000', 'two', '2.5', '']) expect(refusal(`v1.37.2,tenants=${bad}`).message).toContain(`tenants=${bad}: expected a whole number from 1 to 16`);
    expect(refusal('v1.37.2,storage=sqlite').message).toContain('storage=sqlite: expected etcd or kine');
    expect(refusal('v1.37.2,flavour=minimal').message).toContain('flavour=minimal: expected full or crd-only');
    expect(refusal('v1.37.2,flavour=crd-only,controllers=kcm').message).toContain('kube-controller-manager needs the core API');
    expect(refusal('source=/k8s,flavour=crd-only').message).toContain('flavour=crd-only: builds k8s.io/apiextensions-apiserver of a release');
  });
});

describe('specFromFlags', () => {
  it('spells the shorthands as a spec', () => {
    expect(specFromFlags({})).toMatchObject({ kind: 'version', version: DEFAULT_SERVER_VERSION, args: [] });
    expect(specFromFlags({ serverVersion: 'v1.36.3', apiserverArgs: ['--max-requests-inflight=5'] })).toMatchObject({
      given: 'v1.36.3,arg=--max-requests-inflight=5',
      version: 'v1.36.3',
      args: ['--max-requests-inflight=5'],
    });
  });

  it('appends --apiserver-arg to --server, and refuses --server with --server-version', () => {
    expect(specFromFlags({ server: 'source=/k8s', apiserverArgs: ['--watch-cache=false'] }).args).toEqual(['--watch-cache=false']);
    expect(() => specFromFlags({ server: 'v1.37.2', serverVersion: 'v1.36.3' })).toThrow(/--server and --server-version both name the server/);
    expect(() => specFromFlags({ serverVersion: 'latest' })).toThrow(/--server-version latest/);
  });
});
