import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no server, fast) and `integration` (a real etcd +
// kube-apiserver started once by the global setup, shared by all files).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // One shared control plane on 2 cores: run the files one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
