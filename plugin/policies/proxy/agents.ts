// plugin/policies/proxy/agents.ts
// Keep-alive agents toward the provider, one per origin for the whole process. A connection per
// request costs a large share of throughput; and since EG rebuilds every policy on each config
// reload, agents made per policy instance would pile up open sockets.

import http from 'node:http';
import https from 'node:https';

const agents = new Map<string, http.Agent>();

/**
 * Longest an idle pooled connection is kept. Node's agent honours a provider's `Keep-Alive:
 * timeout=N` hint (closing at N − 1 s, before the provider does) only when the agent has a timeout
 * of its own, which it then lowers to the hint; without one it kept idle sockets forever, and a
 * request written on one just as the provider closed it failed with "socket hang up" (the Cluster
 * slot-migration test failed 3 runs in 4 on it). On a socket in use the timeout only emits an
 * event nobody acts on: the exchange has its own clocks.
 */
const IDLE_SOCKET_MS = 30_000;

export function agentFor(target: URL): http.Agent {
  let agent = agents.get(target.origin);
  if (!agent) {
    const options = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const, timeout: IDLE_SOCKET_MS };
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
