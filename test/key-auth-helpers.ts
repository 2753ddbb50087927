// test/key-auth-helpers.ts
// Shared by the key-auth test files: random keys (so a grep for them means something), their
// hashes, a gateway config with two apiEndpoints (for scopes), and the forms of a key that must never leak.

import { createHash, randomBytes } from 'node:crypto';
import type { GatewayPorts, PipelineStep } from '../testkit/gateway';

export const newKey = (): string => randomBytes(32).toString('base64url');
export const sha256 = (key: string): string => createHash('sha256').update(key).digest('hex');

/** Step after key-auth that shows the upstream what key-auth put on `req.user`. */
export const recordIdentityStep: PipelineStep = {
  expression: [{ action: { jscode: "req.headers['x-test-identity'] = JSON.stringify(req.user === undefined ? null : req.user)" } }],
};

/** `chat` is /v1/chat, `completions` is /v1/chat/completions: two apiEndpoints, one pipeline. */
export function twoEndpointConfig(ports: GatewayPorts, providerUrl: string, steps: PipelineStep[]): Record<string, unknown> {
  return {
    http: { port: ports.port, hostname: '127.0.0.1' },
    apiEndpoints: {
      chat: { host: '*', paths: ['/v1/chat'], methods: ['POST'] },
      completions: { host: '*', paths: ['/v1/chat/completions'], methods: ['POST'] },
    },
    serviceEndpoints: { 'llm-provider': { url: providerUrl } },
    policies: [...new Set(steps.map((s) => Object.keys(s)[0] as string))],
    pipelines: { chat: { apiEndpoints: ['chat', 'completions'], policies: steps } },
  };
}

/** Every form of a key that must never leak: the key, its hash, and 8-character prefixes of both. */
export function secretForms(key: string): string[] {
  const hash = sha256(key);
  return [key, hash, hash.toUpperCase(), key.slice(0, 8), hash.slice(0, 8)];
}
