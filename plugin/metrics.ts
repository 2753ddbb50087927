// plugin/metrics.ts
// The plugin's one prom-client registry. EG runs `init` again on every config reload, and
// registering a metric twice throws, so everything here is created once, when this module is
// first required, and lives for the process: counters keep counting across reloads. Label
// values are small fixed sets; keys, key ids, paths and client IPs never become labels.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { egEventBus } from './eg/reload-hooks';

export const registry = new Registry();

collectDefaultMetrics({ register: registry });
// prom-client names these gauges `*_total`, which promtool rejects for gauges.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
  registry.removeSingleMetric(name);
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export const authFailures = new Counter({
  name: 'auth_failures_total',
  help: 'Requests refused by key-auth, by reason',
  labelNames: ['reason', 'key_id'] as const,
  registers: [registry],
});

export const rateLimitBlocked = new Counter({
  name: 'rate_limit_blocked_total',
  help: 'Requests refused by token-bucket-rate-limit',
  labelNames: ['pipeline', 'reason'] as const,
  registers: [registry],
});

export const rateLimitStoreErrors = new Counter({
  name: 'rate_limit_store_errors_total',
  help: 'Rate-limit decisions the store failed to make, by store and kind (timeout, connection, script)',
  labelNames: ['store', 'kind'] as const,
  registers: [registry],
});

export const rateLimitFailOpen = new Counter({
  name: 'rate_limit_fail_open_total',
  help: 'Requests let through without a decision because the store failed and failureMode is open',
  labelNames: ['pipeline'] as const,
  registers: [registry],
});

export const rateLimitDecisionSeconds = new Histogram({
  name: 'rate_limit_decision_seconds',
  help: 'Time to take a rate-limit decision, by store',
  labelNames: ['store'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const llmTokens = new Counter({
  name: 'llm_tokens_total',
  help: 'LLM tokens charged to clients, by pipeline and kind (input, output); key_id only with key-auth metricKeyIds',
  labelNames: ['pipeline', 'kind', 'key_id'] as const,
  registers: [registry],
});

export const llmTokenSettlements = new Counter({
  name: 'llm_token_settlements_total',
  help: 'LLM-token reservations settled, by outcome (usage, estimated, refunded, store_error)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const llmTokenReservationRatio = new Histogram({
  name: 'llm_token_reservation_ratio',
  help: 'Tokens charged divided by tokens reserved, per settled request: how good the estimates are',
  buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 2, 4],
  registers: [registry],
});

export const httpRequests = new Counter({
  name: 'http_requests_total',
  help: 'Requests answered by the gateway, by pipeline, method and status class',
  labelNames: ['pipeline', 'method', 'status_class'] as const,
  registers: [registry],
});

export const httpRequestSeconds = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time from request to the end of the response, by pipeline',
  labelNames: ['pipeline'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const upstreamSeconds = new Histogram({
  name: 'upstream_duration_seconds',
  help: 'Time from sending a request to the provider to the end of its response',
  labelNames: ['pipeline'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const upstreamFirstByteSeconds = new Histogram({
  name: 'upstream_time_to_first_byte_seconds',
  help: 'Time from sending a request to the provider to its response headers',
  labelNames: ['pipeline'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const upstreamErrors = new Counter({
  name: 'upstream_errors_total',
  help: 'Provider requests that failed, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const configReloads = new Counter({
  name: 'config_reloads_total',
  help: 'Config reloads, by result (applied, rejected)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const configLoaded = new Gauge({
  name: 'config_last_reload_success',
  help: '1 when the last config reload was applied, 0 when it was rejected',
  registers: [registry],
});

export const connectionsRefused = new Counter({
  name: 'http_connections_refused_total',
  help: 'Connections the public listener refused because it was at its connection cap',
  registers: [registry],
});

export const openConnections = new Gauge({
  name: 'http_open_connections',
  help: 'Connections open on the public listener',
  registers: [registry],
});

// Registered for its collect(): nothing sets it.
new Gauge({
  name: 'gateway_event_bus_listeners',
  help: "Listeners on EG's event bus; flat across config reloads unless something leaks",
  registers: [registry],
  collect() {
    const bus = egEventBus();
    this.set(bus.eventNames().reduce((sum, name) => sum + bus.listenerCount(name), 0));
  },
});
