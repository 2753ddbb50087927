// plugin/eg/policy-registry.ts
// EG's registry of policies and its schema validator (its one Ajv 6 instance, with `useDefaults`,
// `coerceTypes` and the `instanceof` keyword), for checks that must judge a config the way EG
// will when it builds the pipelines: a reload candidate, and each keysFile version.

interface EgPolicies {
  policies: Record<string, { schema?: { $id?: string } } | undefined>;
  load(names: string[]): void;
}
interface EgSchemas {
  register(type: string, name: string, schema: { $id: string }): (data: unknown) => { isValid: boolean; error?: string };
  validate(id: string, data: unknown): { isValid: boolean; error: string };
}

/** What EG adds to every step's action params (lib/policies/index.js, ActionParams). */
export const EG_STEP_PARAMS: readonly string[] = Object.freeze(['getCommonAuthCallback']);

/** What EG keeps in every plugin's settings: where it loaded the plugin from. */
export const EG_PLUGIN_SETTINGS: readonly string[] = Object.freeze(['package']);

const egPolicies = (): EgPolicies => require('express-gateway/lib/policies') as EgPolicies;
const egSchemas = (): EgSchemas => require('express-gateway/lib/schemas') as EgSchemas;

/** Loads EG's core policies among `names` (EG registers them lazily by name, as a reload would). */
export function loadCorePolicies(names: readonly string[]): void {
  egPolicies().load([...names]);
}

/** The `$id` of a registered policy's schema; undefined when no policy of that name is registered. */
export function policySchemaId(name: string): string | undefined | null {
  const policy = egPolicies().policies[name];
  return policy === undefined ? undefined : (policy.schema?.$id ?? null);
}

/** Validates `data` against a registered schema (a copy: EG's Ajv applies defaults in place). */
export function validateWithSchema(schemaId: string, data: unknown): string | undefined {
  const { isValid, error } = egSchemas().validate(schemaId, structuredClone(data));
  return isValid ? undefined : error;
}

/** Registers a schema of our own with EG's Ajv and returns its validator (throws without `$id`). */
export function registerSchema(name: string, schema: { $id: string }): (data: unknown) => string | undefined {
  const validate = egSchemas().register('plugin', name, schema);
  return (data) => {
    const { isValid, error } = validate(data);
    return isValid ? undefined : (error ?? 'is invalid');
  };
}
