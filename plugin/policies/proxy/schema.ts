// plugin/policies/proxy/schema.ts
// JSON schema of the proxy's action parameters. It keeps the core proxy's name and its
// `serviceEndpoint` parameter, so a pipeline written for the core proxy runs unchanged.

import { DEFAULTS, PROVIDER_KEY_ENV } from './options';
import { EG_STEP_PARAMS } from '../../eg/policy-registry';
import { onlyDeclared } from '../closed-params';

const timeout = (description: string, defaultMs: number) => ({
  type: 'integer', minimum: 0, maximum: 86_400_000, default: defaultMs, description,
});

/** RFC 9110 §5.1 field-name token. */
const HEADER_NAME = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" } as const;

const properties = {
  serviceEndpoint: { type: 'string', minLength: 1, description: 'serviceEndpoint (gateway.config.yml) holding the provider URL' },
  providerApiKey: { type: 'string', description: `Provider key injected upstream; default: the ${PROVIDER_KEY_ENV} environment variable` },
  providerKeyHeader: { type: 'string', minLength: 1, default: DEFAULTS.providerKeyHeader, description: 'Header carrying the provider key' },
  providerKeyScheme: { type: 'string', default: DEFAULTS.providerKeyScheme, description: 'Scheme before the provider key; empty for none' },
  forwardRequestHeaders: {
    type: 'array', items: HEADER_NAME, default: [...DEFAULTS.forwardRequestHeaders],
    description: 'Client headers sent to the provider besides Content-Type, Content-Length, Content-Encoding, Accept and User-Agent',
  },
  forwardResponseHeaders: {
    type: 'array', items: HEADER_NAME, default: [...DEFAULTS.forwardResponseHeaders],
    description: 'Provider headers sent to the client besides Content-Type, Content-Length, Content-Encoding, Retry-After, Retry-After-Ms and X-Request-Id',
  },
  maxBodyBytes: { type: 'integer', minimum: 1, default: DEFAULTS.maxBodyBytes, description: 'Largest request body accepted (bytes); larger gets 413' },
  connectTimeoutMs: timeout('Time to connect to the provider (ms)', DEFAULTS.connectTimeoutMs),
  firstByteTimeoutMs: timeout('Time from the request fully sent until the provider sends its response headers (ms)', DEFAULTS.firstByteTimeoutMs),
  idleTimeoutMs: timeout('Longest gap between response chunks (ms)', DEFAULTS.idleTimeoutMs),
  totalTimeoutMs: timeout('Longest whole exchange (ms); 0 for none', DEFAULTS.totalTimeoutMs),
} as const;

export const schema = {
  $id: 'http://express-gateway.io/schemas/policies/proxy.json',
  type: 'object',
  required: ['serviceEndpoint'],
  properties,
  propertyNames: onlyDeclared(properties, EG_STEP_PARAMS),
} as const;
