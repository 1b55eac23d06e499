/**
 * Watchers: M concurrent watches spread round-robin over the installed CRDs,
 * each across all namespaces. Event-delivery latency is the time from the
 * writer's send (the `asa-bench.io/sent-at-us` annotation every asa-bench
 * write carries) to the event's arrival, so it holds across processes and
 * shards. Bookmarks are counted; a 410 Gone relists and re-watches; a stream
 * that ends or drops (GOAWAY, restart) reconnects from the last resourceVersion.
 */
import { KubeClient, JSON_HEADERS, RequestError } from '../kube/client.js';
import { collectionPath } from '../kube/paths.js';
import { withQuery } from '../kube/query.js';
import { classifyError } from '../kube/errors.js';
import type { PlannedPhase } from '../scenarios/plan.js';
import { liveCrdAt, liveCrdCount, type OpContext } from './context.js';

import type { IterationOutcome } from './load-models.js';
import type { Operation } from './operation.js';
import { ANNOTATION_SENT_AT } from '../generators/labels.js';
import { epochMicros } from './clock.js';

const DRAIN_QUIET_MS = 500;
const DRAIN_MAX_MS = 5_000;
/** The API server's default cap on concurrent streams per HTTP/2 connection is 100 (--http2-max-streams-per-connection). */
const STREAMS_PER_CONNECTION = 100;
/** Reconnect backoff after a failed watch: doubles from the first to the last, with jitter. */
const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 10_000;
/** Watches being opened at once (see `opening`). */
const OPENING_AT_ONCE = 500;
/** A Retry-After longer than this is not waited out in full. */
const MAX_RETRY_AFTER_MS = 30_000;

interface WatchEvent {
  type: string;
  object?: { code?: number; metadata?: { resourceVersion?: string; annotations?: Record<string, string> } };
}

/** What a watcher needs of one event line. */
export interface WatchLine {
  type: string;
  resourceVersion?: string;
  /** The writer's send time (µs since the epoch), from the asa-bench annotation. */
  sentAtUs?: number;
  /** Status code of an ERROR event (410: too old, relist). */
  code?: number;
}

const TYPE_PREFIX = Buffer.from('{"type":"');
const RESOURCE_VERSION_KEY = Buffer.from('"resourceVersion":"');
const SENT_AT_KEY = Buffer.from(`"${ANNOTATION_SENT_AT}":"`);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Decodes only what event latency needs from one watch line, without parsing
 * the object: 10,000 watchers receiving 20,000 events/s would otherwise build
 * (and collect) every object's whole tree. This relies on the API server's
 * encoding: the WatchEvent struct puts `type` first, and custom objects are
 * maps encoded with sorted keys, so `metadata.annotations` and
 * `metadata.resourceVersion` come before `spec`. ERROR events, and any line
 * not in that shape, are parsed as JSON.
 */
export function decodeWatchLine(line: Buffer): WatchLine {
  const typeEnd = line.indexOf(QUOTE, TYPE_PREFIX.length);
  if (!line.subarray(0, TYPE_PREFIX.length).equals(TYPE_PREFIX) || typeEnd < 0) return fromJson(line);
  const type = line.toString('latin1', TYPE_PREFIX.length, typeEnd);
  if (type === 'ERROR') return fromJson(line);
  const out: WatchLine = { type };
  const resourceVersion = stringAfter(line, RESOURCE_VERSION_KEY, typeEnd);
  if (resourceVersion !== undefined) out.resourceVersion = resourceVersion;
  const sentAt = stringAfter(line, SENT_AT_KEY, typeEnd);
  if (sentAt !== undefined) out.sentAtUs = Number(sentAt);
  return out;
}

/** The JSON string value after `key` (a plain one: an escaped value is not ours, so undefined). */
function stringAfter(line: Buffer, key: Buffer, from: number): string | undefined {
  const at = line.indexOf(key, from);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = line.indexOf(QUOTE, start);
  if (end < 0 || line[end - 1] === BACKSLASH) return undefined;
  return line.toString('latin1', start, end);
}

function fromJson(line: Buffer): WatchLine {
  const event = JSON.parse(line.toString('utf8')) as WatchEvent;
  const sentAt = Number(event.object?.metadata?.annotations?.[ANNOTATION_SENT_AT]);
  return {
    type: event.type,
    resourceVersion: event.object?.metadata?.resourceVersion,
    sentAtUs: Number.isFinite(sentAt) ? sentAt : undefined,
    code: event.object?.code,
  };
}

/** Precomputed count keys of the common event types (no string built per event). */
const EVENT_KEYS: Record<string, string> = { ADDED: 'watch.events.added', MODIFIED: 'watch.events.modified', DELETED: 'watch.events.deleted' };

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

type WatchDoc = Extract<PlannedPhase['doc'], { op: 'watch' }>;

/** One watcher's state across its reconnects and relists. */
interface Watcher {
  resourceVersion: string | undefined;
  /** The server said 410 Gone in the stream: relist. */
  gone: boolean;
  /** Consecutive failed attempts (the backoff grows with them). */
  failures: number;
  /** Counted towards `ready` (once, at its first established stream). */
  counted: boolean;
  bytes: number;
}

export function watchOperation(ctx: OpContext, phase: PlannedPhase, hostSignal: AbortSignal | undefined): Operation {
  const doc = phase.doc as WatchDoc;
  const watches = new PhaseWatches(ctx, doc, hostSignal);
  return {
    key: WATCH_KEYS.session,
    primary: WATCH_KEYS.eventLatency,
    total: doc.watchers,
    ready: watches.ready,
    iteration: (i, signal) => watches.watch(i, signal),
    after: () => {
      void watches.client.close();
    },
  };
}

/** The watchers of one phase: their own connection pool, the gate they open through, `ready` once all are established, one drain after the host ends. */
class PhaseWatches {
  readonly client: KubeClient;
  readonly ready: Promise<void>;
  private readonly headers: Record<string, string>;
  private established = 0;
  private markReady: () => void = () => {};
  private readonly drained = new AbortController();
  private lastEventAt = performance.now();
  private phaseSignal: AbortSignal | undefined;
  private stop: AbortSignal | undefined;
  // Watches open at most OPENING_AT_ONCE at a time (initial list + watch request until its
  // headers arrive), as informers start one by one: 10,000 requests in flight at once only
  // meet APF's 429s and hold 10,000 pending requests' memory in the harness.
  private readonly opening = new Gate(OPENING_AT_ONCE);

  constructor(
    private readonly ctx: OpContext,
    private readonly doc: WatchDoc,
    hostSignal: AbortSignal | undefined,
  ) {
    // Watches hold their stream for their whole life: a pool of their own with no body timeout.
    // HTTP/2 (default): streams multiplexed over ceil(watchers / 100) connections, as client-go's
    // informers share one; HTTP/1.1: one TLS connection per watch (~150 KB of harness memory each).
    // --shard: a shard's share of the watchers may be 0 (then one idle connection slot, and ready at once).
    const http2 = doc.transport === 'http2';
    const connections = Math.max(1, http2 ? Math.ceil(doc.watchers / STREAMS_PER_CONNECTION) : doc.watchers);
    this.client = new KubeClient(ctx.client.connection, { connections, http2, maxStreams: STREAMS_PER_CONNECTION, timeoutMs: 0 });
    this.headers = this.client.headers(JSON_HEADERS);
    this.ready = new Promise<void>((resolve) => (this.markReady = resolve));
    if (doc.watchers === 0) this.markReady(); // --shard: no watchers in this shard, nothing to wait for
    hostSignal?.addEventListener('abort', () => this.drain(), { once: true });
  }

  /**
   * When the host phase ends, its last writes' events are still in flight: all watchers keep
   * reading until no watcher has received anything for DRAIN_QUIET_MS (at most DRAIN_MAX_MS).
   * One drain for the phase, not a timer per watcher.
   */
  private drain(): void {
    const started = performance.now();
    const check = () => {
      const now = performance.now();
      if (now - this.lastEventAt >= DRAIN_QUIET_MS || now - started >= DRAIN_MAX_MS || this.phaseSignal?.aborted) this.drained.abort('drained');
      else setTimeout(check, 50);
    };
    check();
  }

  private stopSignal(signal: AbortSignal): AbortSignal {
    // Every iteration of a phase gets the same phase signal: combine it with the drain once.
    if (signal !== this.phaseSignal) {
      this.phaseSignal = signal;
      this.stop = AbortSignal.any([signal, this.drained.signal]);
    }
    return this.stop!;
  }

  private countEstablished(): void {
    if (++this.established === this.doc.watchers) this.markReady();
  }

  /** One iteration: watcher `i` watches until the phase ends, reconnecting and relisting as it must. */
  async watch(i: number, signal: AbortSignal): Promise<IterationOutcome> {
    if (liveCrdCount(this.ctx) === 0) {
      this.countEstablished();
      return { error: 'protocol', message: 'no CRDs installed to watch' };
    }
    const crd = liveCrdAt(this.ctx, i);
    const base = collectionPath({ group: crd.group, version: crd.versions[0]!, plural: crd.plural, namespaced: crd.namespaced }, undefined);
    const stop = this.stopSignal(signal);
    const watcher: Watcher = { resourceVersion: undefined, gone: false, failures: 0, counted: false, bytes: 0 };
    while (!stop.aborted) {
      const ticket = await this.opening.enter(stop);
      try {
        await this.stream(base, watcher, stop, ticket);
      } catch (err) {
        ticket.leave();
        if (stop.aborted) break;
        // A line that is not JSON is the server's (or a proxy's) protocol error, not a transport one.
        const errorClass = err instanceof RequestError ? err.errorClass : err instanceof SyntaxError ? 'protocol' : classifyError(err);
        this.ctx.recorder.count(WATCH_KEYS.reconnect, 1, errorClass);
        // 10,000 watchers retrying at a fixed pace would keep a throttled server throttled:
        // wait what a 429/503 asks (Retry-After), else back off exponentially with jitter.
        await abortableSleep(reconnectDelayMs(err, watcher.failures++), stop);
      }
    }
    return { bytes: watcher.bytes };
  }

  /** One watch stream (after a list when the watcher has no resourceVersion), until the server ends it or the phase does. */
  private async stream(base: string, watcher: Watcher, stop: AbortSignal, ticket: { leave: () => void }): Promise<void> {
    const { client, headers, ctx } = this;
    if (watcher.resourceVersion === undefined) {
      // Start from "now" so existing objects do not arrive as synthetic ADDED events.
      const list = await client.expectOk({ method: 'GET', path: withQuery(base, { limit: 1 }), headers, signal: stop });
      watcher.resourceVersion = (JSON.parse(list.body.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    }
    const requested = performance.now();
    watcher.gone = false;
    const res = await client.streamLines(
      { method: 'GET', path: withQuery(base, { watch: 1, allowWatchBookmarks: true, resourceVersion: watcher.resourceVersion }), headers, signal: stop },
      {
        onStart: (status) => {
          ticket.leave(); // headers are in: the next watcher may open
          if (status !== 200) return;
          watcher.failures = 0;
          ctx.recorder.record(WATCH_KEYS.established, (performance.now() - requested) * 1000);
          if (!watcher.counted) this.countEstablished();
          watcher.counted = true;
        },
        onLine: (line) => this.onEvent(line, watcher),
      },
    );
    watcher.bytes += res.bytes;
    if (res.status === 410 || watcher.gone) {
      ctx.recorder.count(WATCH_KEYS.relist);
      watcher.resourceVersion = undefined;
      return;
    }
    if (res.status !== 200) {
      const retryAfter = Number(res.headers['retry-after']);
      throw new RequestError(`watch: HTTP ${res.status}`, `http-${res.status}`, res.status, res.body.toString('utf8'), Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : undefined);
    }
    // The server ended the stream (timeout, GOAWAY, restart): resume from the last resourceVersion.
    if (!stop.aborted) ctx.recorder.count(WATCH_KEYS.reconnect);
    ticket.leave();
  }

  /** One line of a watch stream; false ends the stream (410 Gone: relist). */
  private onEvent(line: Buffer, watcher: Watcher): boolean {
    const received = epochMicros();
    this.lastEventAt = performance.now();
    const event = decodeWatchLine(line);
    if (event.type === 'ERROR') {
      if (event.code === 410) {
        watcher.gone = true;
        return false; // too old: end this stream, relist
      }
      return true;
    }
    watcher.resourceVersion = event.resourceVersion ?? watcher.resourceVersion;
    if (event.type === 'BOOKMARK') {
      this.ctx.recorder.count(WATCH_KEYS.bookmark);
      return true;
    }
    const sentAt = event.sentAtUs;
    this.ctx.recorder.record(WATCH_KEYS.eventLatency, sentAt !== undefined && Number.isFinite(sentAt) && sentAt > 0 ? Math.max(1, received - sentAt) : 1);
    this.ctx.recorder.count(EVENT_KEYS[event.type] ?? `watch.events.${event.type.toLowerCase()}`);
    return true;
  }
}

/** How long to wait before the next attempt after `failures` consecutive failed ones. */
export function reconnectDelayMs(err: unknown, failures: number, random: () => number = Math.random): number {
  const retryAfter = err instanceof RequestError ? err.retryAfterSeconds : undefined;
  const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(failures, 16));
  const jittered = backoff / 2 + random() * (backoff / 2);
  if (retryAfter !== undefined && retryAfter >= 0) return Math.min(MAX_RETRY_AFTER_MS, Math.max(retryAfter * 1000, jittered));
  return jittered;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Lets at most `limit` holders in at once; a ticket's `leave` is idempotent. */
export class Gate {
  private inside = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async enter(signal: AbortSignal): Promise<{ leave: () => void }> {
    if (this.inside >= this.limit && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiting.splice(this.waiting.indexOf(wake), 1);
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(wake);
      });
      if (signal.aborted) return { leave: () => {} }; // gave up waiting: nothing to leave
    }
    this.inside++;
    let left = false;
    return {
      leave: () => {
        if (left) return;
        left = true;
        this.inside--;
        this.waiting.shift()?.();
      },
    };
  }
}
