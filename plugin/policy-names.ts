// plugin/policy-names.ts
// The names of the policies the plugin registers, shared by the manifest and the start-up check.

export const PLUGIN_POLICY_NAMES: readonly string[] = Object.freeze(['detail-error-formatter', 'key-auth', 'token-bucket-rate-limit', 'proxy']);
