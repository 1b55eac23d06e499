/**
 * Learning when the run's CRDs become Established from ONE watch on the
 * CustomResourceDefinitions labelled with the run's id, instead of polling
 * each new CRD: at 20 installs in flight, polling every 50 ms sent ~400 GETs/s
 * of whole CRD objects (tens of KB each with the crds-5000 schema) to the very
 * server being measured, and added up to 50 ms of error to every lifecycle
 * latency. The watch tells the moment the condition turns True (the event's
 * arrival), and costs the server one watcher fed from its watch cache.
 *
 * The watch starts from a list's resourceVersion, resumes from the last one
 * it saw when the server ends the stream, and relists on 410 Gone.
 */
import { LABEL_RUN } from '../generators/labels.js';
import { JSON_HEADERS, KubeClient, RequestError } from '../kube/client.js';
import { CRD_PATH } from '../kube/paths.js';
import { withQuery } from '../kube/query.js';

interface CrdEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: { metadata?: { name?: string; resourceVersion?: string }; status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] } | string; code?: number };
}

const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 5_000;

export class EstablishedWatch {
  /** performance.now() when each CRD was first seen Established. */
  private readonly establishedAt = new Map<string, number>();
  /** The Established condition's lastTransitionTime (server clock, whole seconds), epoch ms. */
  private readonly transitionedAt = new Map<string, number>();
  private readonly waiters = new Map<string, Set<(at: number) => void>>();
  private readonly stopper = new AbortController();
  private resourceVersion: string | undefined;
  private loop: Promise<void> | undefined;
  private opened: Promise<void> | undefined;
  /** Watch (re)connections after the first, and relists after 410 Gone. */
  reconnects = 0;
  relists = 0;

  /**
   * The watch's own connection. On the load client it would hold one of the
   * phase's connections for the whole install: with `--threads` a thread may
   * have a single connection, and every create then queued behind the watch
   * for ever (found by the thread-crash integration test).
   */
  private readonly client: KubeClient;

  constructor(
    load: KubeClient,
    private readonly runId: string,
  ) {
    this.client = new KubeClient(load.connection, { connections: 1, timeoutMs: 0, leanHttp1: false });
  }

  /** Starts the watch; resolves when it is open (so no Established event of a later create is missed). */
  start(): Promise<void> {
    if (!this.opened) {
      let markOpen!: () => void;
      let failOpen!: (err: unknown) => void;
      this.opened = new Promise<void>((resolve, reject) => ((markOpen = resolve), (failOpen = reject)));
      this.loop = this.run(markOpen, failOpen);
    }
    return this.opened;
  }

  /**
   * Resolves with the time (performance.now()) the CRD was seen Established:
   * at once if it already was, else when its event arrives.
   */
  wait(name: string, signal: AbortSignal, timeoutMs = 120_000): Promise<number> {
    const seen = this.establishedAt.get(name);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<number>((resolve, reject) => {
      const set = this.waiters.get(name) ?? new Set();
      this.waiters.set(name, set);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(waiter);
        if (set.size === 0) this.waiters.delete(name);
      };
      const waiter = (at: number) => {
        done();
        resolve(at);
      };
      const onAbort = () => {
        done();
        reject(Object.assign(new Error(`waiting for ${name}: ${String(signal.reason ?? 'aborted')}`), { name: 'AbortError' }));
      };
      const timer = setTimeout(() => {
        done();
        reject(new RequestError(`CRD ${name} not Established within ${timeoutMs / 1000}s`, 'timeout'));
      }, timeoutMs);
      set.add(waiter);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The Established condition's lastTransitionTime (epoch ms, server clock, whole
   * seconds), if the CRD has been seen Established: what the CRD handler compares
   * a create with before its 2 s sleep.
   */
  establishedSince(name: string): number | undefined {
    return this.transitionedAt.get(name);
  }

  async stop(): Promise<void> {
    this.stopper.abort('run ended');
    await this.loop?.catch(() => {});
    await this.client.close();
  }

  private seen(name: string, at: number, crd: CrdEvent['object']): void {
    if (this.establishedAt.has(name)) return;
    this.establishedAt.set(name, at);
    const since = Date.parse(establishedCondition(crd)?.lastTransitionTime ?? '');
    if (Number.isFinite(since)) this.transitionedAt.set(name, since);
    for (const w of [...(this.waiters.get(name) ?? [])]) w(at);
  }

  private async run(markOpen: () => void, failOpen: (err: unknown) => void): Promise<void> {
    const signal = this.stopper.signal;
    const headers = this.client.headers(JSON_HEADERS);
    const selector = `${LABEL_RUN}=${this.runId}`;
    let failures = 0;
    let open = false;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.list(selector, signal);
        const res = await this.client.streamLines(
          { method: 'GET', path: withQuery(CRD_PATH, { watch: 1, labelSelector: selector, allowWatchBookmarks: true, resourceVersion: this.resourceVersion }), headers, signal },
          {
            onStart: (status) => {
              if (status !== 200) return;
              failures = 0;
              if (!open) markOpen();
              open = true;
            },
            onLine: (line) => this.onLine(line),
          },
        );
        if (res.status === 410 || this.resourceVersion === undefined) {
          this.relists++;
          this.resourceVersion = undefined;
          continue;
        }
        if (res.status !== 200) throw new RequestError(`watch ${CRD_PATH}: HTTP ${res.status}`, `http-${res.status}`, res.status);
        if (!signal.aborted) this.reconnects++;
      } catch (err) {
        if (signal.aborted) break;
        // Before the watch ever opened, a denial is the run's problem (it cannot learn Established).
        if (!open && failures >= 5) {
          failOpen(err);
          return;
        }
        this.reconnects++;
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures++);
        await new Promise<void>((r) => {
          const t = setTimeout(r, backoff / 2 + (Math.random() * backoff) / 2);
          signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
        });
      }
    }
    // Stopped before the watch ever opened: whoever awaits start() must not wait for ever.
    if (!open) failOpen(new Error(`watch ${CRD_PATH}: stopped before it opened`));
  }

  /** Lists the run's CRDs (those already Established count) and takes the list's resourceVersion. */
  private async list(selector: string, signal: AbortSignal): Promise<void> {
    const list = await this.client.expectOk({ method: 'GET', path: withQuery(CRD_PATH, { labelSelector: selector }), headers: this.client.headers(JSON_HEADERS), signal });
    const parsed = JSON.parse(list.body.toString('utf8')) as { metadata: { resourceVersion: string }; items: CrdEvent['object'][] };
    const now = performance.now();
    for (const item of parsed.items) if (isEstablished(item) && item.metadata?.name) this.seen(item.metadata.name, now, item);
    this.resourceVersion = parsed.metadata.resourceVersion;
  }

  private onLine(line: Buffer): boolean {
    const at = performance.now();
    const event = JSON.parse(line.toString('utf8')) as CrdEvent;
    if (event.type === 'ERROR') {
      // 410 Gone inside the stream: the resourceVersion is too old; relist.
      if ((event.object as { code?: number }).code === 410) this.resourceVersion = undefined;
      return false;
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    const name = event.object.metadata?.name;
    // A CRD deleted (a `delete of: crds` phase) and created again is waited for afresh.
    if (name && event.type === 'DELETED') (this.establishedAt.delete(name), this.transitionedAt.delete(name));
    if (name && (event.type === 'ADDED' || event.type === 'MODIFIED') && isEstablished(event.object)) this.seen(name, at, event.object);
    return true;
  }
}

function establishedCondition(crd: CrdEvent['object']) {
  const status = crd.status;
  return typeof status === 'object' ? status.conditions?.find((c) => c.type === 'Established') : undefined;
}

function isEstablished(crd: CrdEvent['object']): boolean {
  return establishedCondition(crd)?.status === 'True';
}
