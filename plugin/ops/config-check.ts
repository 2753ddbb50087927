// plugin/ops/config-check.ts
// Everything a gateway.config.yml candidate must pass before it replaces the serving one: EG
// would otherwise find some of it only halfway through rebuilding (an unknown policy name makes
// its own rollback throw), and none of it after start-up is allowed to stop the gateway.

import { assertAdminOnLoopback } from '../eg/admin-api';
import { loadCorePolicies, policySchemaId, validateWithSchema } from '../eg/policy-registry';
import type { GatewayConfig } from '../eg/types';
import { checkPipelineRules } from '../policies/pipeline-rules';

type Step = Record<string, unknown> | null | undefined;

function asArray<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function checkStep(candidate: GatewayConfig, declared: readonly string[], where: string, step: Step): void {
  const name = Object.keys(step ?? {})[0];
  if (name === undefined) throw new Error(`${where}: empty step`);
  if (!declared.includes(name)) throw new Error(`${where}: "${name}" is not declared in policies`);
  const schemaId = policySchemaId(name);
  asArray((step as Record<string, unknown>)[name] as Array<{ action?: unknown }> | { action?: unknown }).forEach((entry, entryIndex) => {
    const action = (entry?.action ?? {}) as Record<string, unknown>;
    const error = typeof schemaId === 'string' ? validateWithSchema(schemaId, action) : undefined;
    if (error !== undefined) throw new Error(`${where}.${name}[${entryIndex}].action: ${name} params validation failed: ${error}`);
    const serviceEndpoint = action['serviceEndpoint'];
    if (typeof serviceEndpoint === 'string' && !(serviceEndpoint in (candidate.serviceEndpoints ?? {}))) {
      throw new Error(`${where}.${name}[${entryIndex}].action.serviceEndpoint: "${serviceEndpoint}" is not declared in serviceEndpoints`);
    }
  });
}

/** Throws an Error naming the field that is wrong; returns when the candidate could serve. */
export function validateGatewayConfig(candidate: GatewayConfig): void {
  assertAdminOnLoopback(candidate);
  const declared = asArray(candidate.policies);
  loadCorePolicies(declared);
  for (const name of declared) {
    if (policySchemaId(name) === undefined) throw new Error(`policies: "${name}" is neither a core policy nor one a loaded plugin provides`);
  }
  for (const [pipelineName, pipeline] of Object.entries(candidate.pipelines ?? {})) {
    const raw = pipeline as { apiEndpoints?: unknown; apiEndpoint?: unknown; policies?: unknown; policy?: unknown };
    for (const endpoint of asArray(raw.apiEndpoints ?? raw.apiEndpoint) as string[]) {
      if (!(endpoint in (candidate.apiEndpoints ?? {}))) throw new Error(`pipelines.${pipelineName}.apiEndpoints: "${endpoint}" is not declared in apiEndpoints`);
    }
    (asArray(raw.policies ?? raw.policy) as Step[]).forEach((step, index) => checkStep(candidate, declared, `pipelines.${pipelineName}.policies[${index}]`, step));
  }
  checkPipelineRules(candidate);
}
