/**
 * The CLI words the typed errors of the parts below it: the same hints users
 * saw when those parts still wrote them (flags and commands live in src/cli).
 */
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/errors.js';
import { NoiseInputError } from '../../src/compare/noise.js';
import { NotBuiltError } from '../../src/controlplane/process.js';
import { AlreadyUpError } from '../../src/controlplane/server-up.js';
import { JobTimeoutError, PodCannotStartError } from '../../src/distribute/orchestrate.js';
import { NoCompletionIndexError, NotInPodError } from '../../src/distribute/worker.js';
import { UnchosenTargetError } from '../../src/kube/target.js';
import { ExitCode, InputError, TargetError } from '../../src/types/errors.js';

describe('describeError', () => {
  it.each([
    [new UnchosenTargetError('m', 'kubeconfig'), 'pass --kubeconfig PATH, set KUBECONFIG, or omit both to use the embedded local control plane', ExitCode.target],
    [new UnchosenTargetError('m', 'context'), 'pass --context NAME or set current-context in the kubeconfig', ExitCode.target],
    [new NotBuiltError('m'), 'run `asa-bench server build` first', ExitCode.controlPlane],
    [new NotBuiltError('m', 'storage=kine'), 'build it first: asa-bench server build --server VERSION,storage=kine', ExitCode.controlPlane],
    [new NotBuiltError('m', 'flavour=crd-only'), 'build it first: asa-bench server build --server VERSION,flavour=crd-only', ExitCode.controlPlane],
    [new AlreadyUpError('m'), 'run `asa-bench server down` first', ExitCode.controlPlane],
    [new NoiseInputError('m', 'runs'), 'use --repeat 5 or more', ExitCode.usage],
    [new NoiseInputError('m', 'noise-file'), 'pass the noise.json written by `asa-bench calibrate`', ExitCode.usage],
    [new NoCompletionIndexError('m'), 'distribute-worker runs in the pods of an Indexed Job; elsewhere pass --index K (0-based)', ExitCode.usage],
    [new NotInPodError('m'), "distribute-worker uses the pod's service account; elsewhere pass --kubeconfig", ExitCode.target],
    [new PodCannotStartError('m', true), 'build the image from the Dockerfile, push it where the cluster can pull it, and pass it as --image', ExitCode.runFailed],
    [new JobTimeoutError('m'), 'raise --timeout, or look at the pods while they run (--keep keeps them afterwards)', ExitCode.runFailed],
  ])('%s: its hint, its exit code', (err, hint, code) => {
    expect(describeError(err)).toEqual({ message: 'm', hint });
    expect(err.exitCode).toBe(code);
  });

  it('a pod that fails for another reason than its image has no hint; other errors keep their own', () => {
    expect(describeError(new PodCannotStartError('m', false))).toEqual({ message: 'm' });
    expect(describeError(new TargetError('m', 'h'))).toEqual({ message: 'm', hint: 'h' });
  });

  it('a scenario problem at a safety ceiling says how to lift it; others as they are', () => {
    const err = new InputError([
      { file: 's.yaml', line: 4, column: 18, path: 'generate.crds.count', message: 'expected at most 20000 CRDs, got 10000000', ceiling: true },
      { file: 's.yaml', line: 5, column: 3, path: 'name', message: 'expected a string' },
    ]);
    expect(describeError(err).message).toBe(
      's.yaml:4:18 generate.crds.count: expected at most 20000 CRDs, got 10000000 (pass --allow-huge if you mean it)\ns.yaml:5:3 name: expected a string',
    );
  });
});
