// testkit/provider-process.ts
// The stand-in provider (testkit/provider.ts) in a process of its own, so that it never shares an
// event loop with a load generator or the gateway: the bench's provider, and the reliability
// latency check's. Prints `{"port":N}` once listening; SIGTERM ends it. A body with
// `"stream": true` gets SSE_EVENTS (50) events, one every SSE_INTERVAL_MS (100); others a completion.

import { answerLikeAProvider, StandInProvider } from './provider';

const provider = new StandInProvider({ record: false, keepAliveTimeoutMs: 60_000 });
provider.handler = answerLikeAProvider(provider, {
  events: Number(process.env['SSE_EVENTS'] ?? 50),
  intervalMs: Number(process.env['SSE_INTERVAL_MS'] ?? 100),
  completion: { model: 'bench', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
});

provider.start(Number(process.env['PORT'] ?? 0)).then(() => {
  process.stdout.write(`${JSON.stringify({ port: provider.port })}\n`);
}, (error: unknown) => {
  process.stderr.write(`provider-process: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => { void provider.stop().then(() => process.exit(0)); });
