import type { CommandModule } from 'yargs';
import { ensureControlPlane } from '../controlplane/build.js';
import { runningServer, serverDown, serverUp, readServerState } from '../controlplane/server.js';
import { binaryPaths } from '../controlplane/paths.js';
import type { Output } from './output.js';

interface ServerArgs {
  'server-version': string;
  'apiserver-arg'?: string[];
}

export function serverCommands(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'server <action>',
    describe: 'Build, start, stop or inspect the embedded local control plane (etcd + kube-apiserver)',
    builder: (y) =>
      y
        .positional('action', { choices: ['build', 'up', 'down', 'status'] as const, describe: 'build: compile (cached); up: start in the background; down: stop and delete its data; status: show it' })
        .option('apiserver-arg', { type: 'string', array: true, describe: 'extra kube-apiserver flag for `up`, e.g. --apiserver-arg=--max-requests-inflight=5' }),
    handler: async (argv) => {
      const args = argv as unknown as ServerArgs & { action: string };
      const version = args['server-version'];
      const progress = (m: string) => out.progress(m);
      switch (args.action) {
        case 'build': {
          const bins = await ensureControlPlane(version, progress);
          out.data(`kube-apiserver ${version}: ${bins.kubeApiserver}\netcd: ${bins.etcd}`);
          return;
        }
        case 'up': {
          const state = await serverUp(version, progress, { apiserverArgs: args['apiserver-arg'] ?? [] });
          out.data(`local control plane ${state.version} is up\n  server:     ${state.server}\n  kubeconfig: ${state.kubeconfig}\n  data:       ${state.dir}\nexport KUBECONFIG=${state.kubeconfig}   # to use it with kubectl`);
          return;
        }
        case 'down': {
          const state = await serverDown();
          out.data(state ? `stopped the local control plane ${state.version} at ${state.server} and removed ${state.dir}` : 'no local control plane was running');
          return;
        }
        default: {
          const state = await runningServer();
          const bins = binaryPaths(version);
          if (state) {
            out.data(`running: ${state.version} at ${state.server} (since ${state.startedAt})\n  kubeconfig: ${state.kubeconfig}`);
          } else {
            const stale = await readServerState();
            out.data(stale ? `not running (stale state from ${stale.startedAt}; run \`asa-bench server down\` to clear it)` : 'not running');
          }
          out.data(`binaries for ${version}: ${bins.kubeApiserver}`);
        }
      }
    },
  };
}
