// test/provider.test.ts
// proxy, everything but the event-stream format: which credentials reach the provider, a client
// that leaves aborts the provider call, each timeout, and the body limit decided while the body
// streams (never held whole).

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { MESSAGES } from '../plugin/messages';
import { buildGatewayConfig, type Gateway, proxyStep, REPO_ROOT, startGateway, step } from '../testkit/gateway';
import { CHAT_BODY, postChat } from './helpers/http';
import { eventually, sleep } from '../testkit/wait';
import { openStream } from './helpers/event-stream';
import { streamEvents } from '../testkit/provider';
import { gatewayInFront } from './helpers/gateway-fixture';

const PROVIDER_KEY = 'sk-provider-secret-0123456789';
const CLIENT_KEY = 'client-key-abcdef';
const FIRST_BYTE_MS = 400;
const IDLE_MS = 400;
const TOTAL_MS = 600;
const MIB = 1024 * 1024;

function expectDetail(reply: { status: number; headers: Headers; json: unknown; text: string }, status: number, detail: string): void {
  expect(reply.status, reply.text).to.equal(status);
  expect(reply.headers.get('content-type')).to.match(/^application\/json/);
  expect(reply.json).to.deep.equal({ detail });
}

/** A raw POST whose body the test writes itself; resolves with status and text, or 'error'. */
function rawPost(url: string, headers: Record<string, string> = {}): { req: http.ClientRequest; reply: Promise<{ status: number; text: string } | 'error'> } {
  const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } });
  const reply = new Promise<{ status: number; text: string } | 'error'>((resolve) => {
    req.on('error', () => resolve('error'));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', () => resolve('error'));
      res.on('close', () => { if (!res.complete) resolve('error'); });
    });
  });
  return { req, reply };
}

describe('proxy: the provider side', function () {
  const suite = gatewayInFront((provider) => ({
    env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY },
    gatewayConfig: ({ port }) => {
      const config = buildGatewayConfig({
        port, providerUrl: provider.url,
        steps: [step('detail-error-formatter'), proxyStep({ firstByteTimeoutMs: FIRST_BYTE_MS, idleTimeoutMs: IDLE_MS })],
      }) as { apiEndpoints: Record<string, unknown>; pipelines: Record<string, unknown> };
      // A second route whose proxy step sets every credential option and a total timeout.
      config.apiEndpoints['custom'] = { host: '*', paths: ['/custom/v1/chat'], methods: ['POST'] };
      config.pipelines['custom'] = {
        apiEndpoints: ['custom'],
        policies: [step('detail-error-formatter'), proxyStep({
          providerApiKey: 'sk-from-config', providerKeyHeader: 'api-key', providerKeyScheme: '',
          forwardRequestHeaders: ['Authorization', 'X-Trace', 'api-key'], totalTimeoutMs: TOTAL_MS,
        })],
      };
      return config;
    },
  }));

  afterEach(() => suite.provider.reset());

  describe('credentials', function () {
    it("injects the provider key as Authorization: Bearer; the client's X-API-Key, Authorization, Cookie and unlisted headers stay behind", async function () {
      const reply = await postChat(suite.gateway.url, {
        'X-API-Key': CLIENT_KEY, authorization: 'Bearer client-token', cookie: 'session=client-cookie', 'x-trace': 'kept',
      });
      expect(reply.status).to.equal(200);
      const seen = suite.provider.exchanges[0]?.headers ?? {};
      expect(seen['authorization']).to.equal(`Bearer ${PROVIDER_KEY}`);
      expect(seen).not.to.have.property('x-api-key');
      expect(seen).not.to.have.property('cookie');
      expect(seen).not.to.have.property('x-trace');
      expect(JSON.stringify(seen)).not.to.include(CLIENT_KEY).and.not.to.include('client-token').and.not.to.include('client-cookie');
      expect(suite.gateway.logs).not.to.include(PROVIDER_KEY).and.not.to.include(CLIENT_KEY);
    });

    it("keeps the provider's Set-Cookie from the client", async function () {
      suite.provider.handler = (exchange) => {
        void exchange.body.then(() => {
          exchange.res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'provider-session=abc', 'x-request-id': 'req_1' });
          exchange.res.end('{"ok":true}');
        });
      };
      const reply = await postChat(suite.gateway.url);
      expect(reply.status).to.equal(200);
      expect(reply.headers.get('set-cookie')).to.equal(null);
      expect(reply.headers.get('x-request-id')).to.equal('req_1');
    });

    it('uses the configured key header and scheme, and forwards the client headers forwardRequestHeaders lists', async function () {
      const reply = await postChat(suite.gateway.url, {
        'X-API-Key': CLIENT_KEY, 'x-internal-token': 'internal', authorization: 'Bearer passed-on', 'api-key': 'forged', 'x-trace': 'kept',
      }, CHAT_BODY, '/custom/v1/chat');
      expect(reply.status).to.equal(200);
      const seen = suite.provider.exchanges[0]?.headers ?? {};
      // Listed, but the provider key's header is the gateway's: the client's value never wins.
      expect(seen['api-key']).to.equal('sk-from-config');
      expect(seen).not.to.have.property('x-api-key');
      expect(seen).not.to.have.property('x-internal-token');
      // Listed, and not the provider key's header on this route, so it is the client's own business.
      expect(seen['authorization']).to.equal('Bearer passed-on');
      expect(seen['x-trace']).to.equal('kept');
      expect(await eventually(() => suite.gateway.logs.includes('"code":"WRN_PROXY_HEADER_NOT_FORWARDABLE","header":"api-key"'), 5000)).to.equal(true);
    });
  });

  describe('cancellation', function () {
    it('aborts the provider call within 100 ms when a client waiting for a plain answer leaves', async function () {
      suite.provider.handler = () => { /* thinks forever */ };
      const { req, reply } = rawPost(`${suite.gateway.url}/v1/chat`);
      req.end(CHAT_BODY);
      expect(await eventually(() => suite.provider.exchanges.length === 1, 2000)).to.equal(true);
      await suite.provider.exchanges[0]?.body;
      const leftAt = performance.now();
      req.destroy();
      expect(await reply).to.equal('error');
      expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
      const after = (suite.provider.exchanges[0]?.abortedAt ?? Infinity) - leftAt;
      if (process.env['REPORT_FIGURES']) console.log(`    provider saw the close ${after.toFixed(1)} ms after the client left (plain)`);
      expect(after).to.be.below(100);
    });

    it('aborts the provider stream within 100 ms when a client reading events leaves', async function () {
      suite.provider.handler = (exchange) => { void exchange.body.then(() => streamEvents(suite.provider, exchange, 100, 100)); };
      const stream = await openStream(`${suite.gateway.url}/v1/chat`, JSON.stringify({ stream: true, messages: [] }));
      expect(await eventually(() => stream.events.length >= 2, 2000, 5)).to.equal(true);
      const leftAt = stream.leave();
      expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000, 5)).to.equal(true);
      const after = (suite.provider.exchanges[0]?.abortedAt ?? Infinity) - leftAt;
      if (process.env['REPORT_FIGURES']) console.log(`    provider saw the close ${after.toFixed(1)} ms after the client left (stream)`);
      expect(after).to.be.below(100);
    });
  });

  describe('timeouts', function () {
    it('answers 500 with the seed message when the provider sends nothing for firstByteTimeoutMs, and hangs up on it', async function () {
      suite.provider.handler = () => { /* never answers */ };
      const started = performance.now();
      const reply = await postChat(suite.gateway.url);
      const elapsed = performance.now() - started;
      expectDetail(reply, 500, MESSAGES.internalError);
      expect(elapsed).to.be.within(FIRST_BYTE_MS - 20, FIRST_BYTE_MS + 1500);
      expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
    });

    it('starts the first-byte clock once the request is sent, not while the client is still uploading', async function () {
      const { req, reply } = rawPost(`${suite.gateway.url}/v1/chat`);
      req.write(CHAT_BODY.slice(0, 10));
      await sleep(FIRST_BYTE_MS + 300);
      req.end(CHAT_BODY.slice(10));
      const answer = await reply;
      expect(answer).not.to.equal('error');
      expect((answer as { status: number }).status).to.equal(200);
    });

    it('cuts a plain answer whose provider goes quiet for idleTimeoutMs', async function () {
      let startedAt = 0;
      suite.provider.handler = (exchange) => {
        void exchange.body.then(() => {
          exchange.res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
          exchange.res.write('{"id":"chatcmpl-stub","choices":[');
          startedAt = performance.now();
        });
      };
      const { req, reply } = rawPost(`${suite.gateway.url}/v1/chat`);
      req.end(CHAT_BODY);
      expect(await reply).to.equal('error');
      expect(performance.now() - startedAt).to.be.within(IDLE_MS - 20, IDLE_MS + 1500);
      expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
    });

    it('hangs up on a client that reads nothing for idleTimeoutMs, and on its provider call', async function () {
      suite.provider.handler = (exchange) => {
        void exchange.body.then(() => {
          exchange.res.writeHead(200, { 'content-type': 'text/event-stream' });
          const event = `data: ${'x'.repeat(64 * 1024)}\n\n`;
          const pump = (): void => {
            while (!exchange.res.destroyed) {
              if (!exchange.res.write(event)) { exchange.res.once('drain', pump); return; }
            }
          };
          pump();
        });
      };
      const { req } = rawPost(`${suite.gateway.url}/v1/chat`);
      const response = new Promise<http.IncomingMessage>((resolve) => req.on('response', (res) => { res.pause(); resolve(res); }));
      req.end(JSON.stringify({ stream: true, messages: [] }));
      const res = await response;
      // Once the buffers are full the provider is paused; idleTimeoutMs later the gateway gives up.
      expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, IDLE_MS + 4000)).to.equal(true);
      // Reading again drains what the kernel still holds, then the connection is found cut: the
      // gateway did not queue a last event and a clean end behind data the client was not reading.
      const outcome = await new Promise<string>((resolve) => {
        res.on('end', () => resolve('clean end'));
        res.on('error', () => resolve('cut'));
        res.on('close', () => resolve(res.complete ? 'clean end' : 'cut'));
        res.resume();
      });
      expect(outcome).to.equal('cut');
    });

    it('ends a stream at the configured totalTimeoutMs with a last detail event', async function () {
      suite.provider.handler = (exchange) => { void exchange.body.then(() => streamEvents(suite.provider, exchange, 100, 100)); };
      const started = performance.now();
      const stream = await openStream(`${suite.gateway.url}/custom/v1/chat`, JSON.stringify({ stream: true, messages: [] }));
      const done = await stream.done;
      expect(done.how).to.equal('end');
      expect(done.at - started).to.be.within(TOTAL_MS - 20, TOTAL_MS + 1500);
      expect(stream.events.at(-1)?.data).to.equal(JSON.stringify({ detail: MESSAGES.internalError }));
      expect(stream.events.length).to.be.above(2);
    });
  });

  describe('body limit (default 1 MiB)', function () {
    it('forwards a body of exactly 1 MiB', async function () {
      const reply = await postChat(suite.gateway.url, {}, 'x'.repeat(MIB));
      expect(reply.status).to.equal(200);
      expect(suite.provider.exchanges[0]?.bodyBytes).to.equal(MIB);
    });

    it('answers 413 from Content-Length for 1 MiB + 1, without calling the provider', async function () {
      expectDetail(await postChat(suite.gateway.url, {}, 'x'.repeat(MIB + 1)), 413, MESSAGES.payloadTooLarge);
      await sleep(100);
      expect(suite.provider.exchanges).to.have.length(0);
    });

    it('answers 413 to a chunked body once it passes 1 MiB, and aborts what reached the provider', async function () {
      const { req, reply } = rawPost(`${suite.gateway.url}/v1/chat`);
      const piece = Buffer.alloc(64 * 1024, 'x');
      for (let i = 0; i < 40; i += 1) req.write(piece);
      req.end();
      const answer = await reply;
      expect(answer).not.to.equal('error');
      expect((answer as { status: number }).status).to.equal(413);
      expect(JSON.parse((answer as { text: string }).text)).to.deep.equal({ detail: MESSAGES.payloadTooLarge });
      for (const exchange of suite.provider.exchanges) {
        expect(await eventually(() => exchange.abortedAt !== undefined || exchange.req.destroyed, 1000)).to.equal(true);
        expect(exchange.bodyBytes).to.be.at.most(MIB);
      }
    });

    it('streams an allowed body: the provider reads its start before the client sends the rest', async function () {
      const { req, reply } = rawPost(`${suite.gateway.url}/v1/chat`);
      req.write(Buffer.alloc(64 * 1024, 'x'));
      // Were the gateway holding the body, nothing would reach the provider before the end.
      expect(await eventually(() => suite.provider.exchanges[0]?.firstBodyAt !== undefined, 3000, 10)).to.equal(true);
      const clientEndedAt = performance.now();
      req.end(Buffer.alloc(800 * 1024, 'y'));
      const answer = await reply;
      expect((answer as { status: number }).status).to.equal(200);
      expect(suite.provider.exchanges[0]?.firstBodyAt).to.be.below(clientEndedAt);
      expect(suite.provider.exchanges[0]?.bodyBytes).to.equal(864 * 1024);
    });
  });
});

describe('proxy: connect timeout', function () {
  let blackhole: ChildProcess;
  let gateway: Gateway;

  before(async function () {
    blackhole = spawn('python3', [path.join(REPO_ROOT, 'test', 'fixtures', 'blackhole.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve, reject) => {
      blackhole.once('error', reject);
      createInterface({ input: blackhole.stdout! }).once('line', resolve);
    });
    gateway = await startGateway({
      providerUrl: `http://127.0.0.1:${port}`,
      // gateway-error tells a timeout (504) from a refused or reset connection (502).
      steps: [step('detail-error-formatter', { upstreamFailureStatus: 'gateway-error' }), proxyStep({ connectTimeoutMs: 300, firstByteTimeoutMs: 20_000 })],
    });
  });

  after(async function () {
    await gateway?.stop();
    if (blackhole && blackhole.exitCode === null) {
      const exited = new Promise((resolve) => blackhole.once('exit', resolve));
      blackhole.stdin?.end();
      await exited;
    }
  });

  it('gives up on a provider that does not accept the connection after connectTimeoutMs', async function () {
    const started = performance.now();
    const reply = await postChat(gateway.url);
    const elapsed = performance.now() - started;
    expectDetail(reply, 504, MESSAGES.internalError);
    expect(elapsed).to.be.within(280, 3000);
  });
});
