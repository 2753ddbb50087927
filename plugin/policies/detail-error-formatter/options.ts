// plugin/policies/detail-error-formatter/options.ts
// Types and defaults of the formatter's action parameters; schema.ts takes its defaults from here.

type UpstreamFailureStatus = 'internal-error' | 'gateway-error';

export interface DetailErrorFormatterOptions {
  /**
   * How a provider that is down, refuses, resets, times out or answers 5xx is reported.
   * `internal-error` (default): 500 with the seed's message, which seed-era clients retry.
   * `gateway-error`: 502 (unreachable, reset, 5xx) or 504 (timed out), same message.
   */
  readonly upstreamFailureStatus: UpstreamFailureStatus;
  /**
   * Largest provider error body read to find its message, in bytes, as received and once
   * decompressed. A body past it is answered with a generic message. Default 65536.
   */
  readonly maxErrorBodyBytes: number;
}

export const DEFAULTS: DetailErrorFormatterOptions = Object.freeze({
  upstreamFailureStatus: 'internal-error',
  maxErrorBodyBytes: 64 * 1024,
});
