// plugin/policies/proxy/options.ts
// Types and defaults of the proxy's action parameters; schema.ts takes its defaults from here.

export interface ProxyOptions {
  /** Name of the serviceEndpoint (gateway.config.yml) that holds the provider's URL. Required. */
  readonly serviceEndpoint: string;
  /** The provider's key. Default: the LLM_PROVIDER_API_KEY environment variable, read at config load. */
  readonly providerApiKey: string;
  /** Header that carries the provider's key upstream. Default `Authorization`. */
  readonly providerKeyHeader: string;
  /** Scheme written before the key; empty for none (e.g. `x-api-key`-style providers). Default `Bearer`. */
  readonly providerKeyScheme: string;
  /**
   * Client request headers sent to the provider besides Content-Type, Content-Length,
   * Content-Encoding, Accept and User-Agent. Default none: every other client header stays at the
   * gateway.
   */
  readonly forwardRequestHeaders: readonly string[];
  /**
   * Provider response headers sent to the client besides Content-Type, Content-Length,
   * Content-Encoding, Retry-After, Retry-After-Ms and X-Request-Id. Default none.
   */
  readonly forwardResponseHeaders: readonly string[];
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  readonly maxBodyBytes: number;
  /** Time allowed to open a connection to the provider, ms. Default 10000. */
  readonly connectTimeoutMs: number;
  /** Time allowed from the request fully sent to the provider's response headers, ms. Default 60000. */
  readonly firstByteTimeoutMs: number;
  /**
   * Longest gap between two chunks of the provider's response, ms. Default 120000. A gap caused by
   * a client that reads nothing (the provider paused for it) closes both sides instead.
   */
  readonly idleTimeoutMs: number;
  /**
   * Longest whole exchange, ms; 0 for none. Default 600000 (10 minutes): long enough for long LLM
   * answers, and a provider that trickles a byte now and then cannot hold two connections forever.
   */
  readonly totalTimeoutMs: number;
}

export const DEFAULTS: Omit<ProxyOptions, 'serviceEndpoint' | 'providerApiKey'> = Object.freeze({
  providerKeyHeader: 'Authorization',
  providerKeyScheme: 'Bearer',
  forwardRequestHeaders: Object.freeze([]),
  forwardResponseHeaders: Object.freeze([]),
  maxBodyBytes: 1024 * 1024,
  connectTimeoutMs: 10_000,
  firstByteTimeoutMs: 60_000,
  idleTimeoutMs: 120_000,
  totalTimeoutMs: 600_000,
});

export const PROVIDER_KEY_ENV = 'LLM_PROVIDER_API_KEY';
