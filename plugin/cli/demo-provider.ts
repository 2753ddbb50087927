// plugin/cli/demo-provider.ts
// A stand-in LLM provider for `npm start` without LLM_PROVIDER_URL: it answers POST
// /v1/chat and /v1/chat/completions with an OpenAI-style chat completion, or with server-sent
// events, one word at a time, when the body asks `"stream": true`, so the README's curl and the
// official `openai` client work on a fresh machine.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

const DEMO_MODEL = 'demo-echo-1';
const MAX_DEMO_BODY = 1024 * 1024;

interface ChatRequest { messages?: Array<{ role?: unknown; content?: unknown }>; stream?: unknown; model?: unknown }

function replyTo(request: ChatRequest): string {
  const last = [...(request.messages ?? [])].reverse().find((m) => m.role === 'user');
  const said = typeof last?.content === 'string' ? last.content : '';
  return said === '' ? 'Hello from the demo provider.' : `You said: ${said}`;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function completion(id: string, model: string, content: string) {
  return {
    id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 0, completion_tokens: content.split(' ').length, total_tokens: content.split(' ').length },
  };
}

/**
 * Time between two events of a streamed answer: a real model writes word by word, and the demo
 * shows that the gateway passes each event on as it comes (`curl -N`). DEMO_STREAM_INTERVAL_MS.
 */
const STREAM_INTERVAL_MS = Math.max(0, Number(process.env['DEMO_STREAM_INTERVAL_MS'] ?? 30) || 0);

function streamCompletion(res: http.ServerResponse, id: string, model: string, content: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, string>, finish: string | null) => `data: ${JSON.stringify({
    id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
  const events = [
    chunk({ role: 'assistant' }, null),
    ...content.split(' ').map((word, i) => chunk({ content: i === 0 ? word : ` ${word}` }, null)),
    chunk({}, 'stop'),
    'data: [DONE]\n\n',
  ];
  let next = 0;
  const send = (): void => {
    // A client (the gateway) that hung up stops the answer, as a provider would.
    if (res.destroyed) return;
    const event = events[next];
    next += 1;
    if (next === events.length) { res.end(event); return; }
    res.write(event);
    setTimeout(send, STREAM_INTERVAL_MS).unref();
  };
  send();
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
      let request: ChatRequest;
      try {
        request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
      } catch {
        sendJson(res, 400, { error: { message: 'The request body is not valid JSON' } });
        return;
      }
      if (typeof request !== 'object' || request === null || !Array.isArray(request.messages)) {
        sendJson(res, 400, { error: { message: '"messages" must be an array of chat messages' } });
        return;
      }
      counter += 1;
      const id = `chatcmpl-demo-${counter}`;
      const model = typeof request.model === 'string' ? request.model : DEMO_MODEL;
      if (request.stream === true) streamCompletion(res, id, model, replyTo(request));
      else sendJson(res, 200, completion(id, model, replyTo(request)));
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
