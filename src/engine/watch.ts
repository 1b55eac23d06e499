/**
 * Watchers: M concurrent watches spread round-robin over the installed CRDs,
 * each across all namespaces. Event-delivery latency is the time from the
 * writer's send (the `asa-bench.io/sent-at-us` annotation every asa-bench
 * write carries) to the event's arrival, so it holds across processes and
 * shards. Bookmarks are counted; a 410 Gone relists and re-watches; a stream
 * that ends or drops (GOAWAY, restart) reconnects from the last resourceVersion.
 */
import { KubeClient, JSON_HEADERS, RequestError } from '../kube/client.js';
import { collectionPath, withQuery } from '../kube/paths.js';
import { classifyError } from '../metrics/errors.js';
import type { PlannedPhase } from '../scenarios/plan.js';
import { liveCrdAt, liveCrdCount, type OpContext } from './context.js';

const DRAIN_QUIET_MS = 500;
const DRAIN_MAX_MS = 5_000;
import type { Operation } from './ops.js';
import { ANNOTATION_SENT_AT, epochMicros } from './ops.js';

interface WatchEvent {
  type: string;
  object?: { code?: number; metadata?: { resourceVersion?: string; annotations?: Record<string, string> } };
}

/** Keys this module records (counts; the latency histogram is in µs). */
export const WATCH_KEYS = {
  eventLatency: 'watch.event-latency',
  bookmark: 'watch.bookmark',
  relist: 'watch.relist',
  reconnect: 'watch.reconnect',
  /** Request sent → watch response headers received. */
  established: 'watch.established',
  /** How long each watcher ran (its whole life, reconnects included): the phase's iterations. */
  session: 'watch.session',
} as const;

export function watchOperation(ctx: OpContext, phase: PlannedPhase, hostSignal: AbortSignal | undefined): Operation {
  const doc = phase.doc as Extract<PlannedPhase['doc'], { op: 'watch' }>;
  // Watches hold their connection for their whole life: a pool of their own,
  // sized to the watchers, with no body timeout.
  // --shard: a shard's share of the watchers may be 0 (then one idle connection slot, and ready at once).
  const client = new KubeClient(ctx.client.connection, { connections: Math.max(1, doc.watchers), timeoutMs: 0 });
  const headers = client.headers(JSON_HEADERS);
  let established = 0;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  if (doc.watchers === 0) markReady(); // --shard: no watchers in this shard, nothing to wait for
  return {
    key: WATCH_KEYS.session,
    primary: WATCH_KEYS.eventLatency,
    total: doc.watchers,
    ready,
    iteration: async (i, signal) => {
      if (liveCrdCount(ctx) === 0) {
        if (++established === doc.watchers) markReady();
        return { error: 'protocol', message: 'no CRDs installed to watch' };
      }
      const crd = liveCrdAt(ctx, i);
      const base = collectionPath({ group: crd.group, version: crd.versions[0]!, plural: crd.plural, namespaced: crd.namespaced }, undefined);
      // When the host phase ends, its last writes' events are still in flight: keep
      // reading until the stream has been quiet for DRAIN_QUIET_MS (at most DRAIN_MAX_MS).
      const drained = new AbortController();
      let lastEventAt = performance.now();
      hostSignal?.addEventListener(
        'abort',
        () => {
          const started = performance.now();
          const check = () => {
            const now = performance.now();
            if (now - lastEventAt >= DRAIN_QUIET_MS || now - started >= DRAIN_MAX_MS || signal.aborted) drained.abort('drained');
            else setTimeout(check, 50);
          };
          check();
        },
        { once: true },
      );
      const stop = AbortSignal.any([signal, drained.signal]);
      let bytes = 0;
      let resourceVersion: string | undefined;
      while (!stop.aborted) {
        try {
          if (resourceVersion === undefined) {
            // Start from "now" so existing objects do not arrive as synthetic ADDED events.
            const list = await client.expectOk({ method: 'GET', path: withQuery(base, { limit: 1 }), headers, signal: stop });
            resourceVersion = (JSON.parse(list.body.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
          }
          const requested = performance.now();
          const res = await client.pool.request({
            method: 'GET',
            path: client.fullPath(withQuery(base, { watch: 1, allowWatchBookmarks: true, resourceVersion })),
            headers,
            signal: stop,
          });
          if (res.statusCode === 410) {
            await res.body.dump();
            ctx.recorder.count(WATCH_KEYS.relist);
            resourceVersion = undefined;
            continue;
          }
          if (res.statusCode !== 200) {
            await res.body.dump();
            throw new RequestError(`watch: HTTP ${res.statusCode}`, `http-${res.statusCode}`, res.statusCode);
          }
          ctx.recorder.record(WATCH_KEYS.established, (performance.now() - requested) * 1000);
          if (++established === doc.watchers) markReady();
          let pending = '';
          let gone = false;
          for await (const chunk of res.body) {
            bytes += (chunk as Buffer).length;
            pending += (chunk as Buffer).toString('utf8');
            let nl: number;
            while ((nl = pending.indexOf('\n')) >= 0) {
              const line = pending.slice(0, nl);
              pending = pending.slice(nl + 1);
              if (!line) continue;
              const event = JSON.parse(line) as WatchEvent;
              const received = epochMicros();
              lastEventAt = performance.now();
              if (event.type === 'ERROR') {
                if (event.object?.code === 410) gone = true;
                continue;
              }
              resourceVersion = event.object?.metadata?.resourceVersion ?? resourceVersion;
              if (event.type === 'BOOKMARK') {
                ctx.recorder.count(WATCH_KEYS.bookmark);
                continue;
              }
              const sentAt = Number(event.object?.metadata?.annotations?.[ANNOTATION_SENT_AT]);
              ctx.recorder.record(WATCH_KEYS.eventLatency, Number.isFinite(sentAt) && sentAt > 0 ? Math.max(1, received - sentAt) : 1);
              ctx.recorder.count(`watch.events.${event.type.toLowerCase()}`);
            }
            if (gone) break;
          }
          if (gone) {
            ctx.recorder.count(WATCH_KEYS.relist);
            resourceVersion = undefined;
          } else if (!stop.aborted) {
            // The server ended the stream (timeout, GOAWAY, restart): resume from the last resourceVersion.
            ctx.recorder.count(WATCH_KEYS.reconnect);
          }
        } catch (err) {
          if (stop.aborted) break;
          const errorClass = err instanceof RequestError ? err.errorClass : classifyError(err);
          ctx.recorder.count(WATCH_KEYS.reconnect, 1, errorClass);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      return { bytes };
    },
    after: () => {
      void client.close();
    },
  };
}
