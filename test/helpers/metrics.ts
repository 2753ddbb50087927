// test/helpers/metrics.ts
// What tests read from the gateway's /metrics, on its ops listener.

import type { Gateway } from '../../testkit/gateway';

/** The exposition text; throws unless the ops listener answered 200 with Prometheus text. */
export async function metricsText(gateway: Gateway): Promise<string> {
  const response = await fetch(`${gateway.opsUrl}/metrics`);
  const text = await response.text();
  if (response.status !== 200 || !text.includes('# HELP')) throw new Error(`GET ${gateway.opsUrl}/metrics answered ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

/** The value of `name{labels}` on the gateway's metrics endpoint; 0 when the series is absent. */
export async function metricValue(gateway: Gateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await metricsText(gateway);
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => labelText.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/**
 * The longest event-loop delay since the previous read, in ms, beyond the sampling tick.
 * prom-client samples the loop with a 10 ms timer and reports each sample's whole delay (an idle
 * loop reads 10-11 ms), so the least sample of the same window, the tick itself, is taken off.
 * prom-client resets its histogram at every scrape: a read before an action and one after it
 * bound the action.
 */
export async function eventLoopLagMaxMs(gateway: Gateway): Promise<number> {
  const text = await metricsText(gateway);
  const value = (name: string): number => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`the gateway reports no ${name}`);
    return Number(match[1]) * 1000;
  };
  return Math.max(0, value('nodejs_eventloop_lag_max_seconds') - value('nodejs_eventloop_lag_min_seconds'));
}
