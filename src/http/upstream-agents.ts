/**
 * One keep-alive agent per model process. An agent outlives nothing: when the process is
 * restarted (a new start generation), its idle sockets point at a dead server and would
 * fail the first request after a restart with ECONNRESET, so the old agent is destroyed.
 */
import http from 'node:http';

export class UpstreamAgents {
  private readonly agents = new Map<string, { generation: number; agent: http.Agent }>();

  /** The agent for `model` in its current start `generation`. */
  for(model: string, generation: number): http.Agent {
    const cur = this.agents.get(model);
    if (cur && cur.generation === generation) return cur.agent;
    cur?.agent.destroy();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.agents.set(model, { generation, agent });
    return agent;
  }

  /**
   * Upstream requests in progress over every model's agent: sockets in use plus requests
   * waiting for one. Zero whenever nothing is being proxied (for inspection and tests: a
   * request that failed without releasing its socket shows here for good).
   */
  busy(): number {
    let n = 0;
    for (const { agent } of this.agents.values()) {
      for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
      for (const list of Object.values(agent.requests)) n += list?.length ?? 0;
    }
    return n;
  }

  destroyAll(): void {
    for (const { agent } of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
