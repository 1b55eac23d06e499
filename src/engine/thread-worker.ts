/**
 * One worker of `run --threads N` (started by threads.ts, from the compiled
 * dist/engine/thread-worker.js): runs its slice of the scenario with its own
 * KubeClient and connection pool, under its own run id, and posts back only
 * events, barrier arrivals and its result. It does not scrape the server's
 * /metrics (the main thread does, once) and cleans up only what its own run
 * id created. Never prints.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KubeClient } from '../kube/client.js';
import { compilePlan } from '../scenarios/plan.js';
import { executePlan, type ExecuteResult } from './run.js';
import { connectionFromData, type MainMessage, type WorkerInit, type WorkerMessage } from './thread-protocol.js';

const port = parentPort;
if (!port) throw new Error('thread-worker.js runs only as a worker thread of a threaded run (threads.ts)');
const init = workerData as WorkerInit;
const post = (message: WorkerMessage) => port.postMessage(message);

const stop = new AbortController();
const skipCleanup = new AbortController();
let waiting: { seq: number; resolve: () => void } | undefined;
let seq = 0;

/** The credential headers the main thread last forwarded (see connectionFromData). */
let latestCredentials: Record<string, string> = init.connection.headers;

port.on('message', (message: MainMessage) => {
  switch (message.type) {
    case 'go':
      if (waiting?.seq === message.seq) {
        waiting.resolve();
        waiting = undefined;
      }
      break;
    case 'stop':
      stop.abort(message.reason);
      // A stopped thread waits for nobody: its run ends, then it cleans up.
      waiting?.resolve();
      waiting = undefined;
      break;
    case 'skip-cleanup':
      skipCleanup.abort('skip cleanup');
      break;
    case 'credentials':
      latestCredentials = message.headers;
      void client.refreshCredentials();
  }
});

/** Arrives at the main thread's barrier and waits until every thread has (or until stopped). */
function barrier(at: { step?: number; phase?: string; end?: true }): Promise<void> {
  if (stop.signal.aborted) return Promise.resolve();
  seq++;
  return new Promise<void>((resolve) => {
    waiting = { seq, resolve };
    post({ type: 'barrier', seq, ...at });
  });
}

const client = new KubeClient(
  connectionFromData(init.connection, () => latestCredentials),
  init.client,
);
let result: ExecuteResult;
try {
  result = await executePlan(compilePlan(init.scenario), {
    client,
    runId: init.runId,
    local: init.local,
    finalizeNamespaces: init.finalizeNamespaces,
    signal: stop.signal,
    cleanupSignal: skipCleanup.signal,
    keep: init.keep,
    onEvent: (event) => post({ type: 'event', event }),
    // Interval timestamps share the main thread's zero (each thread has its own performance.timeOrigin).
    startedAt: init.startedAtEpochMs - performance.timeOrigin,
    ...(init.progressIntervalMs !== undefined ? { progressIntervalMs: init.progressIntervalMs } : {}),
    serverMetrics: false,
    beforePhase: (step, phase) => barrier({ step: step.index, phase }),
    afterPhases: () => barrier({ end: true }),
  });
} finally {
  await client.close().catch(() => {});
}
post({ type: 'result', result });
// Nothing more to receive: the thread ends once its last message is out.
port.unref();
