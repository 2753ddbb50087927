// plugin/policies/resolve-options.ts
// Turns validated action params into a policy's frozen, typed options. EG's ajv has already
// applied the schema's defaults to `params` (in place, and with EG's own `getCommonAuthCallback`
// mixed in), so only the keys a policy declares in its DEFAULTS are copied, and the caller's
// object is never kept or changed.

export function resolveOptions<T extends object>(defaults: T, params: Readonly<Record<string, unknown>>): Readonly<T> {
  const resolved: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const name of Object.keys(defaults)) {
    const value = params[name];
    if (value !== undefined && value !== null) resolved[name] = value;
  }
  return Object.freeze(resolved) as Readonly<T>;
}
