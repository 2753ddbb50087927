// plugin/cli/demo-provider.ts
// A stand-in LLM provider for `npm start` without LLM_PROVIDER_URL: it answers POST
// /v1/chat and /v1/chat/completions with an OpenAI-style chat completion, or with server-sent
// events, one word at a time, when the body asks `"stream": true`, so the README's curl and the
// official `openai` client work on a fresh machine. Its usage is honest, by its own count (a word
// of the answer is a token; the prompt is counted as the gateway estimates it): it honours
// `max_tokens`/`max_completion_tokens`, and sends the usage chunk when `stream_options` asks.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { estimateTokens } from '../llm/estimate';

const DEMO_MODEL = 'demo-echo-1';
const MAX_DEMO_BODY = 1024 * 1024;

interface ChatRequest {
  messages?: Array<{ role?: unknown; content?: unknown }>;
  stream?: unknown;
  model?: unknown;
  stream_options?: { include_usage?: unknown };
}

/** The answer's words: an echo of the last user message, cut at the request's output limit. */
function replyTo(request: ChatRequest): string[] {
  const last = [...(request.messages ?? [])].reverse().find((m) => m.role === 'user');
  const said = typeof last?.content === 'string' ? last.content : '';
  const words = (said === '' ? 'Hello from the demo provider.' : `You said: ${said}`).split(' ');
  const limits = [(request as Record<string, unknown>)['max_tokens'], (request as Record<string, unknown>)['max_completion_tokens']]
    .filter((n): n is number => typeof n === 'number' && n > 0);
  return limits.length === 0 ? words : words.slice(0, Math.max(...limits));
}

function usageOf(request: ChatRequest, words: readonly string[]): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = estimateTokens(request as Record<string, unknown>, 0).input;
  return { prompt_tokens: prompt, completion_tokens: words.length, total_tokens: prompt + words.length };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function completion(id: string, model: string, request: ChatRequest, words: readonly string[]) {
  return {
    id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, message: { role: 'assistant', content: words.join(' ') }, finish_reason: 'stop' }],
    usage: usageOf(request, words),
  };
}

/**
 * Time between two events of a streamed answer: a real model writes word by word, and the demo
 * shows that the gateway passes each event on as it comes (`curl -N`). DEMO_STREAM_INTERVAL_MS.
 */
const STREAM_INTERVAL_MS = Math.max(0, Number(process.env['DEMO_STREAM_INTERVAL_MS'] ?? 30) || 0);

function streamCompletion(res: http.ServerResponse, id: string, model: string, request: ChatRequest, words: readonly string[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const created = Math.floor(Date.now() / 1000);
  const withUsage = request.stream_options?.include_usage === true;
  const event = (choices: unknown[], usage: unknown = null) => `data: ${JSON.stringify({
    id, object: 'chat.completion.chunk', created, model, choices, ...(withUsage ? { usage } : {}),
  })}\n\n`;
  const chunk = (delta: Record<string, string>, finish: string | null) => event([{ index: 0, delta, finish_reason: finish }]);
  const events = [
    chunk({ role: 'assistant' }, null),
    ...words.map((word, i) => chunk({ content: i === 0 ? word : ` ${word}` }, null)),
    chunk({}, 'stop'),
    ...(withUsage ? [event([], usageOf(request, words))] : []),
    'data: [DONE]\n\n',
  ];
  let next = 0;
  const send = (): void => {
    // A client (the gateway) that hung up stops the answer, as a provider would.
    if (res.destroyed) return;
    const text = events[next];
    next += 1;
    if (next === events.length) { res.end(text); return; }
    res.write(text);
    setTimeout(send, STREAM_INTERVAL_MS).unref();
  };
  send();
}

function answer(res: http.ServerResponse, body: Buffer, id: string): void {
  let request: ChatRequest;
  try {
    request = JSON.parse(body.toString('utf8')) as ChatRequest;
  } catch {
    sendJson(res, 400, { error: { message: 'The request body is not valid JSON' } });
    return;
  }
  if (typeof request !== 'object' || request === null || !Array.isArray(request.messages)) {
    sendJson(res, 400, { error: { message: '"messages" must be an array of chat messages' } });
    return;
  }
  const model = typeof request.model === 'string' ? request.model : DEMO_MODEL;
  const words = replyTo(request);
  if (request.stream === true) streamCompletion(res, id, model, request, words);
  else sendJson(res, 200, completion(id, model, request, words));
}

export function createDemoProvider(): http.Server {
  let counter = 0;
  return http.createServer((req, res) => {
    if (req.method !== 'POST' || !/^\/v1\/chat(\/completions)?\/?(\?|$)/.test(req.url ?? '')) {
      sendJson(res, 404, { error: { message: 'The demo provider only answers POST /v1/chat and /v1/chat/completions' } });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => { size += chunk.length; if (size <= MAX_DEMO_BODY) chunks.push(chunk); });
    req.on('end', () => {
      counter += 1;
      answer(res, Buffer.concat(chunks), `chatcmpl-demo-${counter}`);
    });
  });
}

export function startDemoProvider(port: number): Promise<{ server: http.Server; url: string }> {
  const server = createDemoProvider();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${bound}` });
    });
  });
}
