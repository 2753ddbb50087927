// test/llm-tokens.test.ts
// token-bucket-rate-limit's llmTokens on the in-process store: the body read and checked, the
// reservation taken with the request bucket or neither, the settlement on the provider's usage
// (JSON answers and streams, with and without the client asking for usage), refunds on provider
// errors, partial charges on a client that left, the headers in OpenAI's form, a key's models.
// Refill rates are tiny, so that each expected remainder is exact whatever the test's timing.

import { expect } from 'chai';
import http from 'node:http';
import { estimateTokens } from '../plugin/llm/estimate';
import { MESSAGES } from '../plugin/messages';
import { proxyStep, step } from '../testkit/gateway';
import { answerChat, type ChatAnswerPlan, type ChatLedger } from '../testkit/chat-answers';
import { eventually } from '../testkit/wait';
import { expectDetail } from './helpers/detail';
import { gatewayInFront } from './helpers/gateway-fixture';
import { postChat, type Reply } from './helpers/http';
import { metricValue } from './helpers/metrics';

const TOKEN_CAPACITY = 1000;
const DEFAULT_MAX_TOKENS = 1024;
const KEYS = ['reserve', 'refuse', 'cap', 'body', 'stream', 'stream-asked', 'refund', 'cancel', 'no-usage', 'long-answer', 'headers'] as const;
type KeyName = typeof KEYS[number] | 'models';
const keyOf = (name: KeyName): string => `llm-tokens-test-key-${name}-0123456789`;

/** OpenAI's reset durations, as Go's time.ParseDuration reads them: `950ms`, `1.5s`, `6m0s`, `1h0m0s`. */
const GO_DURATION = /^(?:\d+ms|(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?s)$/;

const chatBody = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ model: 'stand-in', messages: [{ role: 'user', content }], ...extra });

/** What the gateway reserves for `body` (count: total), at most the capacity. */
function reservationOf(body: Record<string, unknown>): number {
  const estimate = estimateTokens(body, DEFAULT_MAX_TOKENS);
  return Math.min(estimate.input + estimate.output, TOKEN_CAPACITY);
}

const remainingTokens = (reply: Reply): number => Number(reply.headers.get('x-ratelimit-remaining-tokens'));

describe('token-bucket-rate-limit: LLM tokens (memory store)', function () {
  const ledger: ChatLedger = [];
  const suite = gatewayInFront(() => ({
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [...KEYS.map((name) => ({ id: name, key: keyOf(name) })), { id: 'models', key: keyOf('models'), models: ['model-allowed'] }] }),
      step('token-bucket-rate-limit', { capacity: 1000, refillRate: 0.001, llmTokens: { capacity: TOKEN_CAPACITY, refillRate: 0.001 } }),
      proxyStep(),
    ],
  }));
  const answerBy = (plan: ChatAnswerPlan): void => { suite.provider.handler = answerChat(suite.provider, plan, ledger); };
  const chat = (name: KeyName, body: unknown): Promise<Reply> => postChat(suite.gateway.url, { 'x-api-key': keyOf(name) }, JSON.stringify(body));

  beforeEach(() => {
    suite.provider.reset();
    ledger.length = 0;
    answerBy({});
  });

  it('reserves the estimate before the call, and settles to the reported usage after it', async function () {
    const first = chatBody('reserve, please', { max_tokens: 50 });
    const reply = await chat('reserve', first);
    expect(reply.status, reply.text).to.equal(200);
    expect(remainingTokens(reply), 'after the reservation').to.equal(TOKEN_CAPACITY - reservationOf(first));
    const used = ledger[0]?.usage?.total_tokens ?? Number.NaN;
    expect(used).to.be.below(reservationOf(first));
    expect((reply.json as { usage: { total_tokens: number } }).usage.total_tokens).to.equal(used);
    const second = chatBody('and again', { max_tokens: 10 });
    const next = await chat('reserve', second);
    expect(remainingTokens(next), 'the first request charged its usage, the second reserved').to.equal(TOKEN_CAPACITY - used - reservationOf(second));
  });

  it('refuses with 429, Retry-After and retry-after-ms when the token bucket cannot hold the reservation, and takes nothing from either bucket', async function () {
    answerBy({ completionTokens: 10_000 });
    const big = chatBody('a long answer', { max_tokens: 600 });
    const first = await chat('refuse', big);
    expect(first.status).to.equal(200);
    const left = TOKEN_CAPACITY - reservationOf(big);
    const blockedBefore = await metricValue(suite.gateway, 'rate_limit_blocked_total', { reason: 'llm_tokens' });
    const tooBig = chatBody('another long one', { max_tokens: 500 });
    const refused = await chat('refuse', tooBig);
    expectDetail(refused, 429, MESSAGES.tooManyRequests);
    const waitMs = Number(refused.headers.get('retry-after-ms'));
    expect(waitMs, 'the wait until the token bucket holds the reservation').to.be.closeTo(((reservationOf(tooBig) - left) / 0.001) * 1000, 1000);
    expect(Number(refused.headers.get('retry-after'))).to.equal(Math.ceil(waitMs / 1000));
    expect(refused.headers.get('x-ratelimit-remaining-requests'), 'the request bucket was not taken either').to.equal(first.headers.get('x-ratelimit-remaining-requests'));
    expect(remainingTokens(refused)).to.equal(left);
    expect(await metricValue(suite.gateway, 'rate_limit_blocked_total', { reason: 'llm_tokens' })).to.equal(blockedBefore + 1);
    expect(suite.provider.seen, 'the refused request never reached the provider').to.have.length(1);
  });

  it('admits a request estimated above the capacity once the bucket is full: the reservation is capped', async function () {
    const reply = await chat('cap', chatBody('no limit on this one', { max_tokens: 50_000 }));
    expect(reply.status, reply.text).to.equal(200);
    expect(remainingTokens(reply)).to.equal(0);
  });

  it('answers 400 naming the problem for a body that is not JSON, not an object, or has no messages array, without calling the provider', async function () {
    const raw = (text: string): Promise<Reply> => postChat(suite.gateway.url, { 'x-api-key': keyOf('body') }, text);
    expectDetail(await raw('{"messages": [oops'), 400, MESSAGES.bodyNotJson);
    expectDetail(await raw('["messages"]'), 400, MESSAGES.bodyNotObject);
    expectDetail(await raw('{"messages": "hello"}'), 400, MESSAGES.messagesNotArray);
    expect(suite.provider.seen).to.have.length(0);
  });

  it('asks a stream for its usage, keeps that chunk from a client that did not ask, and charges the reported usage', async function () {
    const body = chatBody('stream it', { stream: true, max_tokens: 30 });
    const reply = await chat('stream', body);
    expect(reply.status).to.equal(200);
    expect(reply.text).to.include('data: [DONE]');
    const sent = JSON.parse(suite.provider.seen[0]?.body ?? '{}') as { stream_options?: { include_usage?: unknown } };
    expect(sent.stream_options?.include_usage, 'the provider was asked for the usage').to.equal(true);
    expect(reply.text).not.to.match(/"choices":\[\]/);
    expect(reply.text).not.to.match(/"usage":\{/);
    const used = ledger[0]?.usage?.total_tokens ?? Number.NaN;
    const next = await chat('stream', chatBody('after', { max_tokens: 1 }));
    expect(remainingTokens(next)).to.equal(TOKEN_CAPACITY - used - reservationOf(chatBody('after', { max_tokens: 1 })));
  });

  it('passes the usage chunk to a client that asked for it, and charges it', async function () {
    const body = chatBody('stream with usage', { stream: true, max_tokens: 30, stream_options: { include_usage: true } });
    const reply = await chat('stream-asked', body);
    expect(reply.text).to.match(/"choices":\[\],"usage":\{"prompt_tokens":\d+/);
    const used = ledger[0]?.usage?.total_tokens ?? Number.NaN;
    const after = chatBody('after', { max_tokens: 1 });
    expect(remainingTokens(await chat('stream-asked', after))).to.equal(TOKEN_CAPACITY - used - reservationOf(after));
  });

  it('refunds the whole reservation when the provider fails before any output', async function () {
    answerBy({ status: 500 });
    const failed = await chat('refund', chatBody('this will fail', { max_tokens: 200 }));
    expectDetail(failed, 500, MESSAGES.internalError);
    answerBy({});
    const after = chatBody('after', { max_tokens: 1 });
    expect(remainingTokens(await chat('refund', after)), 'nothing charged for the failure').to.equal(TOKEN_CAPACITY - reservationOf(after));
    expect(await metricValue(suite.gateway, 'llm_token_settlements_total', { outcome: 'refunded' })).to.be.at.least(1);
  });

  it('charges a stream the client left mid-way its input estimate and the content forwarded', async function () {
    answerBy({ completionTokens: 50, intervalMs: 40 });
    const body = chatBody('a stream to leave', { stream: true, max_tokens: 50 });
    let received = '';
    await new Promise<void>((resolve) => {
      const req = http.request(`${suite.gateway.url}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': keyOf('cancel') } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          received += text;
          if ((received.match(/"content":/g) ?? []).length >= 3) { req.destroy(); resolve(); }
        });
      });
      req.on('error', () => resolve());
      req.end(JSON.stringify(body));
    });
    // The provider sees its call aborted once the gateway handled the client leaving, and settled.
    expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 3000)).to.equal(true);
    const seenBytes = Buffer.byteLength('word word word');
    const input = estimateTokens(body, DEFAULT_MAX_TOKENS).input;
    const after = chatBody('after', { max_tokens: 1 });
    const remaining = remainingTokens(await chat('cancel', after)) + reservationOf(after);
    const charged = TOKEN_CAPACITY - remaining;
    // The gateway may have forwarded an event or two the client had not read when it left.
    expect(charged).to.be.at.least(input + Math.ceil(seenBytes / 4));
    expect(charged).to.be.at.most(input + Math.ceil((seenBytes + 10) / 4));
  });

  it('charges an answer without usage its input estimate and its content', async function () {
    answerBy({ usage: 'none', completionTokens: 5 });
    const body = chatBody('no usage from me', { max_tokens: 40 });
    const reply = await chat('no-usage', body);
    expect(reply.json).not.to.have.property('usage');
    const after = chatBody('after', { max_tokens: 1 });
    const content = Buffer.byteLength('word word word word word');
    expect(remainingTokens(await chat('no-usage', after))).to.equal(TOKEN_CAPACITY - estimateTokens(body, DEFAULT_MAX_TOKENS).input - Math.ceil(content / 4) - reservationOf(after));
    expect(await metricValue(suite.gateway, 'llm_token_settlements_total', { outcome: 'estimated' })).to.be.at.least(1);
  });

  it('finds the usage at the end of a long answer that came in many chunks, multi-byte characters cut between them', async function () {
    const usage = { prompt_tokens: 7, completion_tokens: 93, total_tokens: 100 };
    // 120 KiB of content in 4 KiB pieces (each cuts a two-byte character in half), usage last:
    // the gateway keeps only the answer's first and last 16 KiB, and must still read it whole.
    const text = JSON.stringify({ id: 'chatcmpl-long', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'é'.repeat(60 * 1024) }, finish_reason: 'stop' }], usage });
    const bytes = Buffer.from(text, 'utf8');
    suite.provider.handler = (exchange) => {
      void exchange.body.then(async () => {
        exchange.res.writeHead(200, { 'content-type': 'application/json' });
        for (let at = 0; at < bytes.length; at += 4095) {
          exchange.res.write(bytes.subarray(at, at + 4095));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        exchange.res.end();
      });
    };
    const body = chatBody('a long one', { max_tokens: 500 });
    const reply = await chat('long-answer', body);
    expect(reply.status).to.equal(200);
    expect(reply.text.length, 'the answer passed whole').to.equal(text.length);
    answerBy({});
    const after = chatBody('after', { max_tokens: 1 });
    expect(remainingTokens(await chat('long-answer', after)), 'charged the usage the answer ended with').to.equal(TOKEN_CAPACITY - usage.total_tokens - reservationOf(after));
  });

  it("sends OpenAI's x-ratelimit-* headers and both quotas in the IETF fields", async function () {
    const reply = await chat('headers', chatBody('headers please', { max_tokens: 20 }));
    for (const kind of ['requests', 'tokens']) {
      expect(reply.headers.get(`x-ratelimit-limit-${kind}`)).to.match(/^\d+$/);
      expect(reply.headers.get(`x-ratelimit-remaining-${kind}`)).to.match(/^\d+$/);
      expect(reply.headers.get(`x-ratelimit-reset-${kind}`)).to.match(GO_DURATION);
    }
    expect(reply.headers.get('x-ratelimit-limit-tokens')).to.equal(String(TOKEN_CAPACITY));
    expect(reply.headers.get('ratelimit-policy')).to.equal(`"default";q=1000;w=1000000, "tokens";q=${TOKEN_CAPACITY};w=1000000`);
    expect(reply.headers.get('ratelimit')).to.match(/^"default";r=\d+;t=\d+, "tokens";r=\d+;t=\d+$/);
    expect(await metricValue(suite.gateway, 'llm_tokens_total', { pipeline: 'chat', kind: 'input' })).to.be.above(0);
  });

  it("lets a key with models ask only for those: another model, or none, gets the contract's 401, counted as reason model", async function () {
    expect((await chat('models', chatBody('allowed', { model: 'model-allowed' }))).status).to.equal(200);
    const before = await metricValue(suite.gateway, 'auth_failures_total', { reason: 'model' });
    expectDetail(await chat('models', chatBody('not allowed', { model: 'model-other' })), 401, MESSAGES.unauthorized);
    expectDetail(await chat('models', { messages: [{ role: 'user', content: 'no model' }] }), 401, MESSAGES.unauthorized);
    expect(await metricValue(suite.gateway, 'auth_failures_total', { reason: 'model' })).to.equal(before + 2);
    expect(suite.provider.seen).to.have.length(1);
  });
});
