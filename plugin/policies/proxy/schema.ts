// plugin/policies/proxy/schema.ts
// JSON schema of the proxy's action parameters. It keeps the core proxy's name and its
// `serviceEndpoint` parameter, so a pipeline written for the core proxy runs unchanged.

import { DEFAULTS, PROVIDER_KEY_ENV } from './options';

const timeout = (description: string, defaultMs: number) => ({
  type: 'integer', minimum: 0, maximum: 86_400_000, default: defaultMs, description,
});

export const schema = {
  $id: 'http://express-gateway.io/schemas/policies/proxy.json',
  type: 'object',
  required: ['serviceEndpoint'],
  properties: {
    serviceEndpoint: { type: 'string', minLength: 1, description: 'serviceEndpoint (gateway.config.yml) holding the provider URL' },
    providerApiKey: { type: 'string', description: `Provider key injected upstream; default: the ${PROVIDER_KEY_ENV} environment variable` },
    providerKeyHeader: { type: 'string', minLength: 1, default: DEFAULTS.providerKeyHeader, description: 'Header carrying the provider key' },
    providerKeyScheme: { type: 'string', default: DEFAULTS.providerKeyScheme, description: 'Scheme before the provider key; empty for none' },
    dropRequestHeaders: { type: 'array', items: { type: 'string' }, default: [...DEFAULTS.dropRequestHeaders], description: 'Client headers never sent to the provider' },
    dropResponseHeaders: { type: 'array', items: { type: 'string' }, default: [...DEFAULTS.dropResponseHeaders], description: 'Provider headers never sent to the client' },
    maxBodyBytes: { type: 'integer', minimum: 1, default: DEFAULTS.maxBodyBytes, description: 'Largest request body accepted (bytes); larger gets 413' },
    connectTimeoutMs: timeout('Time to connect to the provider (ms)', DEFAULTS.connectTimeoutMs),
    firstByteTimeoutMs: timeout('Time from the request fully sent until the provider sends its response headers (ms)', DEFAULTS.firstByteTimeoutMs),
    idleTimeoutMs: timeout('Longest gap between response chunks (ms)', DEFAULTS.idleTimeoutMs),
    totalTimeoutMs: timeout('Longest whole exchange (ms); 0 for none', DEFAULTS.totalTimeoutMs),
  },
} as const;
