/**
 * The in-flight tracker (reference 7.2): every model-dispatched request from its admission
 * until its response ends or its client leaves, for `/api/events` (`inflight` messages) and
 * `POST /api/inflight/<id>/cancel`.
 *
 * One per server, surviving reloads (a request keeps its entry while the state it started
 * on is replaced). Entries are shaped like llama-swap's (ids are decimal strings, as there),
 * plus `req_id` (the scheduler ticket, to join with `/api/state` `waiting[].reqId`) and
 * `phase` (waiting for a grant, or being served).
 *
 * Response bytes are the body bytes written so far (the access log's counter, see
 * response-observer.ts), sampled every 250 ms and only while someone listens. With no listener
 * the tracker keeps its entries and nothing else: no timer, no message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { observe, type ResponseObserver } from './response-observer.ts';
import { Coalescer } from './coalescer.ts';
import { requestHeaders, responseHeaders } from './header-map.ts';

/** One tracked request, as sent to clients. */
export interface InflightRequest {
  id: string;
  /** RFC 3339 time the tracking began. */
  timestamp: string;
  model: string;
  req_path: string;
  method: string;
  req_headers: Record<string, string>;
  remote_ip: string;
  /** Empty until the response's headers are sent. */
  resp_headers: Record<string, string>;
  resp_bytes: number;
  elapsed_ms: number;
  metadata: Record<string, string>;
  /** swapstate: the scheduler ticket's reqId. */
  req_id: string;
  /** swapstate: waiting for the scheduler's grant, or being served. */
  phase: 'waiting' | 'serving';
}

export type InflightEvent = { operation: 'upsert'; request: InflightRequest } | { operation: 'remove'; id: string };

export type InflightListener = (event: InflightEvent) => void;

/** What the request path holds for one tracked request. */
export interface InflightHandle {
  readonly id: string;
  /** The scheduler granted the request: it is being served now. */
  serving(): void;
  /** The response ended or the client left (idempotent). */
  end(): void;
}

/** llama-swap's per-request update limit. */
export const UPDATE_INTERVAL_MS = 250;


/** Shared by entries that have none yet (never written to: render copies, sample replaces). */
const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * One tracked request, and the handle the request path holds for it: one object per request
 * (issue 16: no closures, nothing built for a view nobody watches).
 */
class Tracked implements InflightHandle {
  /** Timestamp and request headers are filled in when first rendered: with nobody listening, tracking costs a request next to nothing. */
  readonly entry: InflightRequest;
  readonly started = Date.now();
  /** performance.now() at admission: elapsed times are monotonic, as the coalescer that spaces them. */
  readonly startedMono = performance.now();
  /** The response's body bytes so far (shared with the access log). */
  readonly bytes: ResponseObserver;
  headersTaken = false;
  /** Created when first needed (someone listens). */
  updates: Coalescer | null = null;
  /** Neighbours in the tracker's list, oldest first (see InflightTracker). */
  prev: Tracked | null = null;
  next: Tracked | null = null;
  private ended = false;

  constructor(
    private readonly tracker: InflightTracker,
    readonly id: string,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    opts: { model: string; path: string; reqId: string; remoteIp: string; metadata?: Record<string, string> | undefined; phase?: InflightRequest['phase'] },
  ) {
    this.entry = {
      id,
      timestamp: '',
      model: opts.model,
      req_path: opts.path,
      method: req.method ?? '',
      req_headers: NONE,
      remote_ip: opts.remoteIp,
      resp_headers: NONE,
      resp_bytes: 0,
      elapsed_ms: 0,
      metadata: opts.metadata === undefined ? NONE : { ...opts.metadata },
      req_id: opts.reqId,
      phase: opts.phase ?? 'waiting',
    };
    this.bytes = observe(res);
  }

  serving(): void {
    if (this.ended || this.entry.phase === 'serving') return;
    this.entry.phase = 'serving';
    this.tracker.changed(this);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.tracker.remove(this);
  }
}

/**
 * The tracker's requests, oldest first, linked through the entries themselves. A Map keyed
 * by id cost ~15 µs of CPU per request at 32 connections (issue 16, measured: the same
 * entries made but not kept in the Map cost nothing measurable); adding and removing a link
 * is a few field writes. Only a cancel looks an id up, walking the few requests in flight.
 */
class TrackedList {
  head: Tracked | null = null;
  tail: Tracked | null = null;
  size = 0;

  add(t: Tracked): void {
    t.prev = this.tail;
    t.next = null;
    if (this.tail) this.tail.next = t;
    else this.head = t;
    this.tail = t;
    this.size++;
  }

  remove(t: Tracked): void {
    if (t.prev) t.prev.next = t.next;
    else if (this.head === t) this.head = t.next;
    else return; // not in the list
    if (t.next) t.next.prev = t.prev;
    else this.tail = t.prev;
    t.prev = t.next = null;
    this.size--;
  }

  find(id: string): Tracked | undefined {
    for (let t = this.head; t !== null; t = t.next) if (t.id === id) return t;
    return undefined;
  }

  *[Symbol.iterator](): IterableIterator<Tracked> {
    for (let t = this.head; t !== null; t = t.next) yield t;
  }
}

export class InflightTracker {
  private seq = 0;
  private readonly requests = new TrackedList();
  private readonly listeners = new Set<InflightListener>();
  /** Samples response bytes and headers while someone listens and something is in flight. */
  private sampler: NodeJS.Timeout | null = null;

  /**
   * Starts tracking `req` (answered through `res`) for `model`, under ticket `reqId`; in
   * `phase` `waiting` (the default) until the scheduler grants it, or `serving` at once (a
   * request forwarded to a peer waits for no grant).
   */
  begin(
    req: IncomingMessage,
    res: ServerResponse,
    opts: { model: string; path: string; reqId: string; remoteIp: string; metadata?: Record<string, string> | undefined; phase?: InflightRequest['phase'] },
  ): InflightHandle {
    const id = String(++this.seq);
    const t = new Tracked(this, id, req, res, opts);
    this.requests.add(t);
    this.changed(t);
    this.runSampler();
    return t;
  }

  /**
   * Cancels a tracked request by destroying its client response: the request path's own
   * close handling then cancels its ticket (queued or loading) or aborts the upstream
   * request (serving), exactly as if the client had left. False for an unknown id.
   */
  cancel(id: string): boolean {
    const t = this.requests.find(id);
    if (!t) return false;
    t.res.destroy();
    return true;
  }

  /** Every tracked request now, in the order their ids were given. */
  snapshot(): InflightRequest[] {
    return [...this.requests].map((t) => this.render(t));
  }

  /** How many requests are tracked. */
  get size(): number {
    return this.requests.size;
  }

  /** Receives every upsert and remove from now on; returns the unsubscribe. */
  subscribe(listener: InflightListener): () => void {
    const entry: InflightListener = (e) => listener(e);
    this.listeners.add(entry);
    this.runSampler();
    return () => {
      if (!this.listeners.delete(entry) || this.listeners.size > 0) return;
      // Nobody listens: drop pending updates and the sampler, so an idle server holds no timer.
      for (const t of this.requests) t.updates?.cancel();
      this.runSampler();
    };
  }

  /** A tracked request changed: tell listeners, at most once per interval per request. */
  /** @internal (Tracked) */
  changed(t: Tracked): void {
    if (this.listeners.size === 0) return;
    t.updates ??= new Coalescer(UPDATE_INTERVAL_MS, (now) => this.emit({ operation: 'upsert', request: this.render(t, now) }));
    t.updates.poke();
  }

  /** @internal (Tracked) */
  remove(t: Tracked): void {
    this.requests.remove(t);
    t.updates?.cancel();
    this.runSampler();
    if (this.listeners.size > 0) this.emit({ operation: 'remove', id: t.entry.id });
  }

  private emit(event: InflightEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        /* a listener's failure (a broken stream) is its own */
      }
    }
  }

  /** Reads what the response has done since the last look; true when something changed. */
  private sample(t: Tracked): boolean {
    let changed = false;
    if (!t.headersTaken && t.res.headersSent) {
      t.headersTaken = true;
      t.entry.resp_headers = responseHeaders(t.res);
      changed = true;
    }
    const bytes = t.bytes.bytes;
    if (bytes > t.entry.resp_bytes) {
      t.entry.resp_bytes = bytes;
      changed = true;
    }
    return changed;
  }

  /**
   * A copy of the entry with fresh samples and its elapsed time at `now` (monotonic). An
   * upsert passes the instant its coalescer fired, so elapsed times of two upserts are as far
   * apart as the interval the coalescer keeps, however long the lazy header copy below takes.
   */
  private render(t: Tracked, now = performance.now()): InflightRequest {
    this.sample(t);
    const e = t.entry;
    if (e.timestamp === '') {
      e.timestamp = new Date(t.started).toISOString();
      e.req_headers = requestHeaders(t.req);
    }
    return {
      ...e,
      req_headers: { ...e.req_headers },
      resp_headers: { ...e.resp_headers },
      metadata: { ...e.metadata },
      elapsed_ms: Math.floor(now - t.startedMono),
    };
  }

  /** Starts or stops the sampler to match: it runs only while both listeners and requests exist. */
  private runSampler(): void {
    const wanted = this.listeners.size > 0 && this.requests.size > 0;
    if (wanted && !this.sampler) {
      this.sampler = setInterval(() => {
        for (const t of this.requests) if (this.sample(t)) this.changed(t);
      }, UPDATE_INTERVAL_MS);
      this.sampler.unref();
    } else if (!wanted && this.sampler) {
      clearInterval(this.sampler);
      this.sampler = null;
    }
  }
}
