// plugin/identity.ts
// The identity key-auth records for later policies, in EG's way: on `req.user` (EG's
// `egContext.consumer` is a getter over it). It holds the key's id and plan, never the key.

export interface RateLimitPlan {
  readonly capacity: number;
  readonly refillRate: number;
  /** The key's own LLM-token bucket, used where the limiter step has `llmTokens`. */
  readonly llmTokens?: { readonly capacity: number; readonly refillRate: number };
}

export interface KeyIdentity {
  readonly type: 'api-key';
  /** The key entry's `id` from the config: safe to log, never a secret. */
  readonly id: string;
  /** The key's own limits, when its entry declares `rateLimit`. */
  readonly rateLimit?: RateLimitPlan;
  /** The key id as a metric label value, when key-auth's `metricKeyIds` is on; else undefined. */
  readonly metricKeyId?: string;
}

export function identityOf(req: { user?: unknown }): KeyIdentity | undefined {
  const user = req.user as Partial<KeyIdentity> | undefined;
  return user !== undefined && user !== null && user.type === 'api-key' && typeof user.id === 'string' ? (user as KeyIdentity) : undefined;
}
