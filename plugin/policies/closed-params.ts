// plugin/policies/closed-params.ts
// Unknown parameters are refused: `failureMod: open` (a typo) must stop start-up, not run a
// gateway that fails closed, the opposite of what the operator wrote. `additionalProperties: false`
// cannot say it: EG mixes its own `getCommonAuthCallback` into every step's params, and puts
// `package` into the plugin settings. `propertyNames` can, and EG's Ajv 6 names the field it
// refuses ("property name 'failureMod' is invalid").

/** The `propertyNames` keyword allowing exactly the declared properties, plus `extra`. */
export function onlyDeclared(properties: Readonly<Record<string, unknown>>, extra: readonly string[] = []): { enum: string[] } {
  return { enum: [...new Set([...Object.keys(properties), ...extra])] };
}
