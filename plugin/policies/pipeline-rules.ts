// plugin/policies/pipeline-rules.ts
// Rules about how our policies sit together in a pipeline, which no single step's schema can
// check. Run at start-up (from `init`) and on every reload candidate.

import type { GatewayConfig } from '../eg/types';

const KEY_AUTH = 'key-auth';
const RATE_LIMIT = 'token-bucket-rate-limit';

type Step = Record<string, unknown> | null | undefined;

function actionsOf(step: Step, name: string): Array<Record<string, unknown>> {
  const entries = step?.[name];
  return (Array.isArray(entries) ? entries : [entries]).map((entry) => ((entry as { action?: Record<string, unknown> } | null | undefined)?.action ?? {}));
}

/**
 * Throws naming the pipeline when a rule is broken: `rateLimitBy: key` means "only the key", so
 * key-auth must come before the limiter (without it there is no key, and limiting by IP instead
 * would be the opposite of what the operator wrote).
 */
export function checkPipelineRules(gatewayConfig: GatewayConfig): void {
  for (const [pipelineName, pipeline] of Object.entries(gatewayConfig.pipelines ?? {})) {
    const steps = (pipeline?.policies ?? []) as Step[];
    let keyAuthBefore = false;
    steps.forEach((step, index) => {
      if (step !== null && step !== undefined && KEY_AUTH in step) keyAuthBefore = true;
      if (step === null || step === undefined || !(RATE_LIMIT in step)) return;
      for (const action of actionsOf(step, RATE_LIMIT)) {
        if (action['rateLimitBy'] === 'key' && !keyAuthBefore) {
          throw new Error(`pipelines.${pipelineName}.policies[${index}]: ${RATE_LIMIT} has rateLimitBy: key, but no key-auth step comes before it in pipeline "${pipelineName}"`);
        }
      }
    });
  }
}
