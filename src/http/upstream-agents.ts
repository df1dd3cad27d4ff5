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

  destroyAll(): void {
    for (const { agent } of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
