// test/clients.test.ts
// Real clients through the gateway's OpenAI-compatible route: the official `openai` npm client
// (completion, streamed completion, waiting out a 429's Retry-After) and the seed contract's
// Python retry example, run as a child process. The provider behind is the bundled demo provider,
// wrapped so the test sees what reached it and can make it refuse once.

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { createDemoProvider } from '../plugin/cli/demo-provider';
import { type Gateway, proxyStep, REPO_ROOT, startGateway, step } from '../testkit/gateway';
import { postChat } from './helpers/http';
import { answerChat } from '../testkit/chat-answers';
import { type Exchange } from '../testkit/provider';
import { gatewayInFront } from './helpers/gateway-fixture';

const PROVIDER_KEY = 'sk-provider-for-clients';
const CLIENT_KEY = 'client-key-for-clients';
const PYTHON_EXAMPLE = path.join(REPO_ROOT, 'test', 'fixtures', 'chat_with_retry.py');

const demoRequestListener = createDemoProvider().listeners('request')[0] as (req: http.IncomingMessage, res: http.ServerResponse) => void;
const demo = (exchange: Exchange): void => demoRequestListener(exchange.req, exchange.res);

/** The provider refuses the first `times` requests with 429 and `Retry-After`, then lets the demo answer. */
function refuseThenAnswer(times: number, retryAfterSeconds: number): (exchange: Exchange) => void {
  let refused = 0;
  return (exchange) => {
    if (refused >= times) { demo(exchange); return; }
    refused += 1;
    void exchange.body.then(() => {
      exchange.res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfterSeconds) });
      exchange.res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests', type: 'requests' } }));
    });
  };
}

/** The completion text the Python example printed last (its answer, as JSON). */
function pythonAnswer(stdout: string): string | undefined {
  const answer = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { choices: Array<{ message: { content: string } }> };
  return answer.choices[0]?.message.content;
}

function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile('python3', [PYTHON_EXAMPLE, ...args], {
      timeout: 20_000,
      env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', PYTHONUNBUFFERED: '1' },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

describe('clients', function () {
  const suite = gatewayInFront(() => ({
    env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY },
    steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'clients-test', key: CLIENT_KEY }] }), proxyStep()],
  }));
  let client: OpenAI;

  before(function () {
    client = new OpenAI({ baseURL: `${suite.gateway.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-API-Key': CLIENT_KEY }, maxRetries: 2 });
  });

  beforeEach(() => { suite.provider.reset(); suite.provider.handler = demo; });

  describe('the openai npm client, baseURL = gateway + /v1', function () {
    it('gets a chat completion through /v1/chat/completions', async function () {
      const completion = await client.chat.completions.create({ model: 'demo-echo-1', messages: [{ role: 'user', content: 'hi there' }] });
      expect(completion.choices[0]?.message.content).to.equal('You said: hi there');
      const seen = suite.provider.exchanges[0];
      expect(seen?.url).to.equal('/v1/chat/completions');
      // The SDK's own `Authorization: Bearer unused` and our client's key stay at the gateway.
      expect(seen?.headers['authorization']).to.equal(`Bearer ${PROVIDER_KEY}`);
      expect(seen?.headers).not.to.have.property('x-api-key');
    });

    it('gets a streamed chat completion, chunk by chunk', async function () {
      const stream = await client.chat.completions.create({ model: 'demo-echo-1', stream: true, messages: [{ role: 'user', content: 'stream me please' }] });
      const deltas: string[] = [];
      for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? '');
      expect(deltas.join('')).to.equal('You said: stream me please');
      expect(deltas.filter((d) => d !== '').length).to.be.above(2);
    });

    it("waits for the 429's Retry-After, then succeeds", async function () {
      suite.provider.handler = refuseThenAnswer(1, 1);
      const started = performance.now();
      const completion = await client.chat.completions.create({ model: 'demo-echo-1', messages: [{ role: 'user', content: 'again' }] });
      const elapsed = performance.now() - started;
      expect(completion.choices[0]?.message.content).to.equal('You said: again');
      expect(suite.provider.exchanges).to.have.length(2);
      // Without Retry-After the SDK would wait its own 0.375-0.5 s.
      expect(elapsed).to.be.at.least(1000);
    });
  });

  describe("the seed's Python retry example (chat_with_retry, requests)", function () {
    it('is told its key is wrong (401) and stops', async function () {
      const run = await runPython([suite.gateway.url, 'not-a-key']);
      expect(run.code).to.equal(1);
      expect(run.stdout).to.include('Authentication failed. Check your API key.');
      expect(suite.provider.exchanges).to.have.length(0);
    });

    it('gets its answer through the gateway after being refused with 429', async function () {
      suite.provider.handler = refuseThenAnswer(1, 1);
      const run = await runPython([suite.gateway.url, CLIENT_KEY]);
      expect(run.code, run.stdout + run.stderr).to.equal(0);
      expect(run.stdout).to.include('Rate limited. Waiting 1s...');
      expect(pythonAnswer(run.stdout)).to.equal('You said: Hello');
      expect(suite.provider.exchanges).to.have.length(2);
      expect(suite.provider.exchanges[1]?.url).to.equal('/v1/chat');
      expect(run.ms).to.be.at.least(1000);
    });
  });
});

describe('clients under the gateway\'s own rate limit (token-bucket-rate-limit, capacity 1)', function () {
  const OPENAI_KEY = 'openai-client-key';
  const PYTHON_KEY = 'python-client-key';
  const suite = gatewayInFront(() => ({
    env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY },
    steps: [
      step('detail-error-formatter'),
      // The Python key's own plan refills every 2 s, so the example is refused at least once even
      // if the interpreter is slow to start on a busy machine.
      step('key-auth', { keys: [{ id: 'openai', key: OPENAI_KEY }, { id: 'python', key: PYTHON_KEY, rateLimit: { capacity: 1, refillRate: 0.5 } }] }),
      step('token-bucket-rate-limit', { capacity: 1, refillRate: 1 }),
      proxyStep(),
    ],
  }));

  beforeEach(() => { suite.provider.reset(); suite.provider.handler = demo; });

  it("the openai client waits for the gateway's Retry-After on 429, then succeeds", async function () {
    // Every attempt the SDK makes, as it sent it and as the gateway answered it.
    const attempts: Array<{ sentAt: number; answeredAt: number; status: number; retryAfterMs: number }> = [];
    const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const sentAt = performance.now();
      const response = await fetch(input, init);
      attempts.push({ sentAt, answeredAt: performance.now(), status: response.status, retryAfterMs: Number(response.headers.get('retry-after-ms')) });
      return response;
    };
    const client = new OpenAI({ baseURL: `${suite.gateway.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-API-Key': OPENAI_KEY }, maxRetries: 2, fetch: recordingFetch });
    const first = await client.chat.completions.create({ model: 'demo-echo-1', messages: [{ role: 'user', content: 'one' }] });
    expect(first.choices[0]?.message.content).to.equal('You said: one');
    // The bucket is empty now: the next call is refused with the wait until its token is back
    // (retry-after-ms, under a second by the time it is asked), and the SDK obeys it.
    const { data, response } = await client.chat.completions.create({ model: 'demo-echo-1', messages: [{ role: 'user', content: 'two' }] }).withResponse();
    expect(data.choices[0]?.message.content).to.equal('You said: two');
    expect(response.status).to.equal(200);
    expect(attempts.map((a) => a.status)).to.deep.equal([200, 429, 200]);
    const [, refused, retried] = attempts as [unknown, (typeof attempts)[number], (typeof attempts)[number]];
    expect(refused.retryAfterMs).to.be.within(1, 1000);
    expect(retried.sentAt - refused.answeredAt, 'the SDK waited what retry-after-ms said').to.be.at.least(refused.retryAfterMs - 1);
    // The refused call never reached the provider.
    expect(suite.provider.exchanges).to.have.length(2);
  });

  it('the Python example gets its answer after a 429 from the gateway', async function () {
    const spent = await postChat(suite.gateway.url, { 'X-API-Key': PYTHON_KEY });
    expect(spent.status).to.equal(200);
    const refused = await postChat(suite.gateway.url, { 'X-API-Key': PYTHON_KEY });
    expect(refused.status).to.equal(429);
    expect(refused.headers.get('retry-after')).to.be.oneOf(['1', '2']);
    const run = await runPython([suite.gateway.url, PYTHON_KEY]);
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.include('Rate limited. Waiting 1s...');
    expect(pythonAnswer(run.stdout)).to.equal('You said: Hello');
    expect(suite.provider.exchanges).to.have.length(2);
  });
});

describe('clients under an LLM-token limit (llmTokens, usage as estimated)', function () {
  const OPENAI_KEY = 'openai-token-client-key';
  const PYTHON_KEY = 'python-token-client-key';
  /** OpenAI's reset durations, as Go's time.ParseDuration reads them. */
  const GO_DURATION = /^(?:\d+ms|(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?s)$/;
  const suite = gatewayInFront(() => ({
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [{ id: 'openai', key: OPENAI_KEY }, { id: 'python', key: PYTHON_KEY }] }),
      // 200 tokens, 100 a second: a request reserving 160 leaves too little for the next one.
      step('token-bucket-rate-limit', { capacity: 100, refillRate: 100, llmTokens: { capacity: 200, refillRate: 100 } }),
      proxyStep(),
    ],
  }));

  // The provider reports what the gateway estimated: nothing comes back at the settlement.
  beforeEach(() => { suite.provider.reset(); suite.provider.handler = answerChat(suite.provider, { completionTokens: 10_000 }); });

  it('the openai client waits out the token 429 (retry-after-ms), then succeeds, and reads the x-ratelimit-* headers as OpenAI\'s', async function () {
    const client = new OpenAI({ baseURL: `${suite.gateway.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-API-Key': OPENAI_KEY }, maxRetries: 2 });
    const ask = () => client.chat.completions.create({ model: 'stand-in', max_tokens: 150, messages: [{ role: 'user', content: 'tokens' }] }).withResponse();
    const first = await ask();
    expect(first.response.status).to.equal(200);
    const started = performance.now();
    const second = await ask();
    const elapsed = performance.now() - started;
    expect(second.response.status).to.equal(200);
    // The second reservation had to wait for tokens: the SDK waited, it did not fail.
    expect(elapsed).to.be.at.least(500);
    for (const kind of ['requests', 'tokens']) {
      expect(Number.isInteger(Number(second.response.headers.get(`x-ratelimit-remaining-${kind}`)))).to.equal(true);
      expect(second.response.headers.get(`x-ratelimit-limit-${kind}`)).to.match(/^\d+$/);
      expect(second.response.headers.get(`x-ratelimit-reset-${kind}`)).to.match(GO_DURATION);
    }
    expect(second.response.headers.get('x-ratelimit-limit-tokens')).to.equal('200');
    expect(suite.provider.seen, 'the refused attempts never reached the provider').to.have.length(2);
  });

  it('the Python example gets its answer after token 429s from the gateway', async function () {
    const spent = await postChat(suite.gateway.url, { 'X-API-Key': PYTHON_KEY }, JSON.stringify({ max_tokens: 150, messages: [{ role: 'user', content: 'spend' }] }));
    expect(spent.status).to.equal(200);
    const run = await runPython([suite.gateway.url, PYTHON_KEY]);
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.include('Rate limited. Waiting 1s...');
    expect(run.stdout.trim().split('\n').at(-1)).to.include('"choices"');
    expect(suite.provider.seen).to.have.length(2);
  });
});

describe('clients: the shipped config', function () {
  let gateway: Gateway;

  before(async function () {
    // gateway.config.yml and system.config.yml as shipped, with the bundled demo provider.
    gateway = await startGateway({
      providerUrl: '',
      gatewayConfig: () => fs.readFileSync(path.join(REPO_ROOT, 'gateway.config.yml'), 'utf8'),
      systemConfig: fs.readFileSync(path.join(REPO_ROOT, 'system.config.yml'), 'utf8'),
      env: { LLM_PROVIDER_URL: undefined },
    });
  });

  after(async () => gateway?.stop());

  it('serves the openai client on /v1/chat/completions through the chat pipeline, plain and streamed', async function () {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-API-Key': 'demo-key' }, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'demo-echo-1', messages: [{ role: 'user', content: 'shipped' }] });
    expect(completion.choices[0]?.message.content).to.equal('You said: shipped');
    const stream = await client.chat.completions.create({ model: 'demo-echo-1', stream: true, messages: [{ role: 'user', content: 'shipped stream' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).to.equal('You said: shipped stream');
  });

  it("answers the openai client's wrong key with 401 (the SDK's AuthenticationError)", async function () {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-API-Key': 'not-a-key' } });
    const error = await client.chat.completions.create({ model: 'demo-echo-1', messages: [{ role: 'user', content: 'x' }] }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).to.equal(401);
  });
});
