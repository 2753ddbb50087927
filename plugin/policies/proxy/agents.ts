// plugin/policies/proxy/agents.ts
// Keep-alive agents toward the provider, one per origin for the whole process. A connection per
// request costs a large share of throughput; and since EG rebuilds every policy on each config
// reload, agents made per policy instance would pile up open sockets.

import http from 'node:http';
import https from 'node:https';

const agents = new Map<string, http.Agent>();

export function agentFor(target: URL): http.Agent {
  let agent = agents.get(target.origin);
  if (!agent) {
    const options = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const };
    agent = target.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    agents.set(target.origin, agent);
  }
  return agent;
}

/** Closes every pooled connection (graceful shutdown, tests). */
export function destroyAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}
