/**
 * What one server knows about the requests it forwards to peers (reference 5.5): the
 * connection pool of each peer, the forwards in flight (for `/api/state`), counters per
 * peer, and the end of all of it at shutdown.
 *
 * Peers have no process, scheduler, queue, TTL or concurrency limit, so none of the actor
 * tree is involved: this registry is plain data, one per server, surviving reloads (a
 * forward keeps running while a reload swaps the config it started with).
 */
import { agentPoolOptions } from './transport-timeouts.ts';
import type * as Http from 'node:http';
import { http } from '../node-http.ts';
import https from 'node:https';
import type { PeerConfig } from '../config/types.ts';

/** A forward in flight, as `/api/state` shows it (`forwarded`). */
export interface ForwardedRequest {
  /** `peer-<n>`; also the in-flight tracker entry's `req_id`. */
  reqId: string;
  peer: string;
  /** The name the client asked for (the FQN or the bare id). */
  requested: string;
  /** The peer's own id for the model: what the forwarded request names. */
  model: string;
  method: string;
  /** The path the peer is asked for, under its proxy URL's path. */
  path: string;
  /** ISO time the forward began. */
  since: string;
}

/** Per peer id, since the server started (`/api/state` `peers`). */
export interface PeerCounters {
  /** Forwards in flight now. */
  inFlight: number;
  /** Forwards begun. */
  forwarded: number;
  /** Forwards that failed in transport (502, or a stream the peer cut). */
  failed: number;
}

export interface PeerState {
  forwarded: ForwardedRequest[];
  peers: Record<string, PeerCounters>;
}

/** What the request path holds for one forward. */
export interface ForwardHandle {
  readonly reqId: string;
  /** The forward failed in transport. */
  failed(): void;
  /** The forward is over (idempotent). */
  end(): void;
}

interface Entry {
  info: ForwardedRequest;
  /** Ends the exchange at once: the client's response is destroyed, which aborts the peer request. */
  abort: () => void;
}

/** Idle keep-alive connections kept per peer (Go's MaxIdleConnsPerHost). */
const MAX_IDLE_PER_PEER = 10;

export class PeerForwards {
  private seq = 0;
  private readonly inFlight = new Map<string, Entry>();
  private readonly counters = new Map<string, PeerCounters>();
  private readonly agents = new Map<string, Http.Agent>();
  private readonly listeners = new Set<() => void>();
  private closingSince: number | null = null;

  /** Whether shutdown has begun: new forwards are refused from then on. */
  get closing(): boolean {
    return this.closingSince !== null;
  }

  /**
   * The connection pool of a peer: one per peer id, proxy origin and timeouts, so a reload
   * that changes none of them keeps its warm connections. Idle connections close after
   * `timeouts.idleConn`; TCP keep-alive probes start after `timeouts.keepalive`.
   */
  agentFor(peer: PeerConfig): Http.Agent {
    const url = new URL(peer.proxy);
    const key = `${peer.id}\0${url.protocol}//${url.host}\0${JSON.stringify(peer.timeouts)}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const options: Http.AgentOptions = { keepAlive: true, maxFreeSockets: MAX_IDLE_PER_PEER, ...agentPoolOptions(peer.timeouts) };
      agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Registers a forward; `abort` ends its exchange (shutdown calls it once the drain is over). */
  begin(info: Omit<ForwardedRequest, 'reqId' | 'since'>, abort: () => void): ForwardHandle {
    const reqId = `peer-${++this.seq}`;
    const entry: Entry = { info: { reqId, ...info, since: new Date().toISOString() }, abort };
    this.inFlight.set(reqId, entry);
    const counters = this.countersOf(info.peer);
    counters.inFlight++;
    counters.forwarded++;
    this.changed();
    let ended = false;
    let failed = false;
    return {
      reqId,
      failed: () => {
        if (ended || failed) return;
        failed = true;
        counters.failed++;
      },
      end: () => {
        if (ended) return;
        ended = true;
        this.inFlight.delete(reqId);
        counters.inFlight--;
        this.changed();
      },
    };
  }

  private countersOf(peer: string): PeerCounters {
    let c = this.counters.get(peer);
    if (!c) {
      c = { inFlight: 0, forwarded: 0, failed: 0 };
      this.counters.set(peer, c);
    }
    return c;
  }

  /** The forwards in flight (oldest first) and the counters of `peerIds` (the current config's) and of any peer with one in flight. */
  snapshot(peerIds: readonly string[]): PeerState {
    const forwarded = [...this.inFlight.values()].map((e) => ({ ...e.info }));
    const ids = new Set([...peerIds, ...forwarded.map((f) => f.peer)]);
    const peers: Record<string, PeerCounters> = {};
    for (const id of [...ids].sort()) peers[id] = { ...(this.counters.get(id) ?? { inFlight: 0, forwarded: 0, failed: 0 }) };
    return { forwarded, peers };
  }

  /** Forwards begun so far; any change is activity. */
  get begun(): number {
    return this.seq;
  }

  /** How many forwards are in flight. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Calls `listener` after every begin and end; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    const entry = () => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  /** Shutdown has begun: new forwards are refused; those in flight may finish. */
  beginClosing(): void {
    this.closingSince ??= Date.now();
  }

  /** Ends every forward still in flight (the shutdown's drain time is over). Returns how many. */
  abortAll(): number {
    const entries = [...this.inFlight.values()];
    for (const e of entries) e.abort();
    return entries.length;
  }

  /** Closes every pooled connection (after the forwards have ended). */
  close(): void {
    this.beginClosing();
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
