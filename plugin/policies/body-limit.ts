// plugin/policies/body-limit.ts
// How much of a request body a policy before the proxy may read: the same limit the pipeline's
// proxy step enforces (`maxBodyBytes`), so reading the body early never accepts what the proxy
// would refuse. EG hands a policy factory no pipeline, so the limit is looked up per request by
// its apiEndpoint, in a table built once per loaded config.

import type { GatewayConfig } from '../eg/types';
import { DEFAULTS as PROXY_DEFAULTS } from './proxy/options';

const PROXY = 'proxy';
const tables = new WeakMap<GatewayConfig, ReadonlyMap<string, number>>();

function buildTable(gatewayConfig: GatewayConfig): ReadonlyMap<string, number> {
  const table = new Map<string, number>();
  for (const pipeline of Object.values(gatewayConfig.pipelines ?? {})) {
    let limit: number = PROXY_DEFAULTS.maxBodyBytes;
    for (const step of (pipeline?.policies ?? []) as Array<Record<string, unknown> | null>) {
      const entries = step?.[PROXY];
      const action = (Array.isArray(entries) ? entries[0] : undefined) as { action?: { maxBodyBytes?: unknown } } | undefined;
      if (typeof action?.action?.maxBodyBytes === 'number') limit = action.action.maxBodyBytes;
    }
    for (const endpoint of pipeline?.apiEndpoints ?? []) table.set(endpoint, limit);
  }
  return table;
}

/** The body limit of the pipeline serving `apiEndpointName`. */
export function bodyLimitOf(gatewayConfig: GatewayConfig, apiEndpointName: string | undefined): number {
  let table = tables.get(gatewayConfig);
  if (table === undefined) {
    table = buildTable(gatewayConfig);
    tables.set(gatewayConfig, table);
  }
  return table.get(apiEndpointName ?? '') ?? PROXY_DEFAULTS.maxBodyBytes;
}
