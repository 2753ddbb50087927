// test/helpers/metrics.ts
// Reads one sample of the gateway's /metrics (Prometheus text) by name and labels.

import type { Gateway } from './gateway';

/** The value of `name{labels}` on the gateway's metrics endpoint; 0 when the series is absent. */
export async function metricValue(gateway: Gateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => labelText.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
