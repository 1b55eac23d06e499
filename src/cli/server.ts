import type { CommandModule } from 'yargs';
import { buildFor } from '../controlplane/build-server.js';
import { runningServer, serverDown, serverUp, readServerState } from '../controlplane/server-up.js';
import { resolveServerSpec } from '../controlplane/resolve.js';
import { Interrupts } from './interrupts.js';
import type { Output } from './output.js';
import { SERVER_OPTIONS, serverSpecFromArgs, type TargetArgs } from './target.js';

type ServerArgs = Pick<TargetArgs, 'server' | 'server-version' | 'apiserver-arg'>;

export function serverCommands(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'server <action>',
    describe: 'Build, start, stop or inspect the embedded local control plane (etcd + kube-apiserver + kube-controller-manager)',
    builder: (y) =>
      y
        .positional('action', { choices: ['build', 'up', 'down', 'status'] as const, describe: 'build: compile (cached); up: start in the background; down: stop and delete its data; status: show it' })
        .options(SERVER_OPTIONS)
        .option('apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for `up`, e.g. --apiserver-arg=--max-requests-inflight=5 (same as arg= in --server)' })
        .example('$0 server build --server source=../kubernetes', 'build a (patched) k8s.io/kubernetes tree')
        .example('$0 server up --server v1.37.2,controllers=none', 'start the bare API server in the background'),
    handler: async (argv) => {
      const args = argv as unknown as ServerArgs & { action: string };
      const progress = out.reporter;
      switch (args.action) {
        case 'build': {
          const resolved = await resolveServerSpec(serverSpecFromArgs(args));
          // Ctrl-C stops the build (its go processes are killed) and writes nothing.
          const interrupts = new Interrupts(out, { stopping: 'stopping the build; nothing is written', skipping: () => ['still stopping the build'] }).install();
          const { bins, record } = await buildFor(resolved, progress, interrupts.stop.signal).finally(() => interrupts.dispose());
          out.data(
            [
              `server ${record.label}`,
              `${bins.crdOnly ? 'CRD-only API server' : 'kube-apiserver'} ${bins.version}: ${bins.kubeApiserver} (sha256 ${record.kubeApiserver.sha256})`,
              ...(record.kubeControllerManager ? [`kube-controller-manager: ${record.kubeControllerManager.path} (sha256 ${record.kubeControllerManager.sha256})`] : []),
              `etcd: ${bins.etcd}`,
              ...(record.kine ? [`kine: ${record.kine.path} (sha256 ${record.kine.sha256})`] : []),
            ].join('\n'),
          );
          return;
        }
        case 'up': {
          const resolved = await resolveServerSpec(serverSpecFromArgs(args));
          // Ctrl-C stops the build; once the servers start, `up` finishes (they are detached; `server down` stops them).
          const interrupts = new Interrupts(out, { stopping: 'stopping the build; nothing is started', skipping: () => ['still stopping'] }).install();
          const state = await serverUp(resolved, progress, {}, interrupts.stop.signal).finally(() => interrupts.dispose());
          out.data(
            `local control plane ${state.spec?.label ?? state.version} is up${state.controllerManagerPid ? ' (with kube-controller-manager)' : ''}\n  server:     ${state.server}\n  kubeconfig: ${state.kubeconfig}\n  data:       ${state.dir}\nexport KUBECONFIG=${state.kubeconfig}   # to use it with kubectl`,
          );
          return;
        }
        case 'down': {
          const state = await serverDown();
          out.data(state ? `stopped the local control plane ${state.spec?.label ?? state.version} at ${state.server} and removed ${state.dir}` : 'no local control plane was running');
          return;
        }
        default: {
          const state = await runningServer();
          if (state) {
            out.data(`running: ${state.spec?.label ?? state.version} at ${state.server} (since ${state.startedAt})\n  spec:       ${state.spec?.spec ?? `${state.version},controllers=none`}\n  kubeconfig: ${state.kubeconfig}`);
          } else {
            const stale = await readServerState();
            out.data(stale ? `not running (stale state from ${stale.startedAt}; run \`asa-bench server down\` to clear it)` : 'not running');
          }
        }
      }
    },
  };
}
