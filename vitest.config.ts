import { defineConfig } from 'vitest/config';

// Three projects: `unit` (no server, fast), `integration` (a real etcd +
// kube-apiserver started once by the global setup, shared by all files), and
// the opt-in `builds` (server builds from patched source trees; not in `npm test`).
// They run one after the other (sequence.groupOrder): unit first, so the
// timing-sensitive unit tests (event-loop and CPU measurements) never share the
// 2 cores with a loaded kube-apiserver. (Not 0: vitest puts single-worker
// projects of group 0 — any project on a 2-core machine — into one trailing
// group ordered by name, which ran `integration` before `unit`.)
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/builds/**'],
          testTimeout: 30_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/setup.ts'],
          testTimeout: 180_000,
          sequence: { groupOrder: 2 },
          hookTimeout: 300_000,
          // One shared control plane on 2 cores: run the files one after another.
          fileParallelism: false,
        },
      },
      {
        // Opt-in (`npm run test:builds`): builds the server from patched source trees; long.
        test: {
          name: 'builds',
          include: ['test/builds/**/*.test.ts'],
          testTimeout: 3_600_000,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
