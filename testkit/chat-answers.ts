// testkit/chat-answers.ts
// The stand-in provider answering like an OpenAI-compatible LLM, for the token-limit tests: it
// reads the request, writes `completionTokens` words (at most the request's max_tokens), and
// reports usage as told: exactly what the gateway estimated, twice that, or none; streamed answers
// send the usage chunk (`"choices": []`) only when the request asks with stream_options.

import { estimateTokens } from '../plugin/llm/estimate';
import { DONE_FRAME, eventFrame } from './chat-completions';
import { sendJson, type Exchange, type ExchangeHandler, type StandInProvider } from './provider';

export type UsageReport = 'estimate' | 'double' | 'none';

export interface ChatAnswerPlan {
  /** Words of the answer, one token each (cut at the request's max_tokens). Default 5. */
  readonly completionTokens?: number;
  /** What usage says. Default `estimate`: the gateway's input estimate and the words written. */
  readonly usage?: UsageReport;
  /** Gap between stream events, ms. Default 5. */
  readonly intervalMs?: number;
  /** Stop a stream after this many content events without ending it well (the socket is cut). */
  readonly cutAfterEvents?: number;
  /** The status of every answer; an error status answers an OpenAI-style error body. Default 200. */
  readonly status?: number;
}

export interface ChatRequest {
  readonly body: Record<string, unknown>;
  readonly usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;
}

/** What each answered request was charged by the provider, in the order answered. */
export type ChatLedger = ChatRequest[];

function usageFor(body: Record<string, unknown>, words: number, report: UsageReport): ChatRequest['usage'] {
  if (report === 'none') return undefined;
  const factor = report === 'double' ? 2 : 1;
  const prompt = estimateTokens(body, 0).input * factor;
  const completion = words * factor;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function wordsFor(body: Record<string, unknown>, wanted: number): number {
  const limits = [body['max_tokens'], body['max_completion_tokens']].filter((n): n is number => typeof n === 'number' && n > 0);
  return limits.length === 0 ? wanted : Math.min(wanted, Math.max(...limits));
}

function stream(provider: StandInProvider, exchange: Exchange, body: Record<string, unknown>, words: number, usage: ChatRequest['usage'], plan: ChatAnswerPlan): void {
  const withUsage = (body['stream_options'] as { include_usage?: unknown } | undefined)?.include_usage === true;
  const chunk = (choices: unknown[], chunkUsage: unknown = null): string => eventFrame(JSON.stringify({
    id: 'chatcmpl-stand-in', object: 'chat.completion.chunk', created: 1, model: 'stand-in', choices, ...(withUsage ? { usage: chunkUsage } : {}),
  }));
  const frames = [
    chunk([{ index: 0, delta: { role: 'assistant' }, finish_reason: null }]),
    ...Array.from({ length: words }, (_, i) => chunk([{ index: 0, delta: { content: i === 0 ? 'word' : ' word' }, finish_reason: null }])),
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
    ...(withUsage && usage !== undefined ? [chunk([], usage)] : []),
    DONE_FRAME,
  ];
  exchange.res.writeHead(200, { 'content-type': 'text/event-stream' });
  let next = 0;
  const timer = provider.every(plan.intervalMs ?? 5, () => {
    if (exchange.res.destroyed) { provider.stopTimer(timer); return; }
    if (plan.cutAfterEvents !== undefined && next === plan.cutAfterEvents + 1) {
      provider.stopTimer(timer);
      exchange.req.socket.destroy();
      return;
    }
    const frame = frames[next] as string;
    next += 1;
    if (next === frames.length) { provider.stopTimer(timer); exchange.res.end(frame); return; }
    exchange.res.write(frame);
  });
}

/** A handler answering every request by `plan`, recording each in `ledger`. */
export function answerChat(provider: StandInProvider, plan: ChatAnswerPlan = {}, ledger: ChatLedger = []): ExchangeHandler {
  return (exchange) => {
    void exchange.body.then((text) => {
      const body = JSON.parse(text) as Record<string, unknown>;
      if ((plan.status ?? 200) >= 400) {
        sendJson(exchange.res, plan.status ?? 500, JSON.stringify({ error: { message: 'The stand-in provider failed on purpose' } }));
        ledger.push({ body, usage: undefined });
        return;
      }
      const words = wordsFor(body, plan.completionTokens ?? 5);
      const usage = usageFor(body, words, plan.usage ?? 'estimate');
      ledger.push({ body, usage });
      if (body['stream'] === true) {
        stream(provider, exchange, body, words, usage, plan);
        return;
      }
      sendJson(exchange.res, 200, JSON.stringify({
        id: 'chatcmpl-stand-in', object: 'chat.completion', created: 1, model: 'stand-in',
        choices: [{ index: 0, message: { role: 'assistant', content: Array.from({ length: words }, () => 'word').join(' ') }, finish_reason: 'stop' }],
        ...(usage === undefined ? {} : { usage }),
      }));
    });
  };
}
