/**
 * Where a granted request goes: the model server's base URL and a keep-alive agent for that
 * server. The runtime knows both when it grants (the process actor's config and start count),
 * so the grant carries them (tickets.ts) and the HTTP side asks neither the config nor the
 * process again.
 *
 * One agent per start of a model's server, never longer: when the process is restarted, its
 * idle sockets point at a dead server and would fail the first request after the restart with
 * ECONNRESET, so the old agent is destroyed when a grant first names the new start. A start is
 * known by its process actor and the actor's start count together: a respawned actor counts
 * from zero again.
 */
import type * as Http from 'node:http';
import { http } from '../node-http.ts';

/** What the HTTP side needs to send a granted request. Shared by every grant of one start. */
export interface Upstream {
  /** Base URL of the model's server (`proxy` in the config). */
  readonly base: string;
  /** The start generation: how many times the process actor had started its server. */
  readonly generation: number;
  /** Keep-alive connections to this start's server, and to no other. */
  readonly agent: Http.Agent;
}

interface Current {
  /** The process actor that started the server. */
  actor: object;
  upstream: Upstream;
}

/** The pool settings of a model's agent beyond the defaults (its `timeouts`: keepalive, idleConn). */
export type AgentOptionsOf = (model: string) => Http.AgentOptions;

export class Upstreams {
  private readonly current = new Map<string, Current>();

  constructor(private readonly agentOptions: AgentOptionsOf = () => ({})) {}

  /**
   * The upstream of `model`'s server as started by `actor` in start `generation` at `base`:
   * the same object for every grant of that start (no allocation on the request path), a
   * fresh one with a fresh agent for a new start.
   */
  at(model: string, actor: object, generation: number, base: string): Upstream {
    const cur = this.current.get(model);
    if (cur && cur.actor === actor && cur.upstream.generation === generation) return cur.upstream;
    cur?.upstream.agent.destroy();
    const upstream: Upstream = { base, generation, agent: new http.Agent({ ...this.agentOptions(model), keepAlive: true, maxSockets: 64 }) };
    this.current.set(model, { actor, upstream });
    return upstream;
  }

  /**
   * Upstream requests in progress over every model's agent: sockets in use plus requests
   * waiting for one. Zero whenever nothing is being proxied (for inspection and tests: a
   * request that failed without releasing its socket shows here for good).
   */
  busy(): number {
    let n = 0;
    for (const { upstream } of this.current.values()) {
      for (const list of Object.values(upstream.agent.sockets)) n += list?.length ?? 0;
      for (const list of Object.values(upstream.agent.requests)) n += list?.length ?? 0;
    }
    return n;
  }

  /** Whether `model` has a pool now (for inspection and tests). */
  pooled(model: string): boolean {
    return this.current.has(model);
  }

  /** A model a reload removed, once its process is stopped: its pool goes with it. */
  forget(model: string): void {
    this.current.get(model)?.upstream.agent.destroy();
    this.current.delete(model);
  }

  destroyAll(): void {
    for (const { upstream } of this.current.values()) upstream.agent.destroy();
    this.current.clear();
  }
}
