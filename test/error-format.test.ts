// test/error-format.test.ts
// detail-error-formatter: every error that leaves the gateway is `application/json`
// `{"detail": "..."}`, whoever produced it: our policies, EG's core ones, Express, or the provider.

import { expect } from 'chai';
import net from 'node:net';
import { MESSAGES } from '../plugin/messages';
import { type Gateway, proxyStep, startGateway, step } from '../testkit/gateway';
import { call, CHAT_BODY, postChat } from './helpers/http';
import { eventually } from '../testkit/wait';
import { afterBody, startProvider } from '../testkit/provider';
import { expectDetail } from './helpers/detail';
import { gatewayInFront } from './helpers/gateway-fixture';

/** Writes each chunk on one raw connection, the next once an answer to the previous has arrived; resolves with all bytes received when the server closes. */
function rawExchange(port: number, chunks: readonly string[]): Promise<string> {
  return new Promise<string>((resolve) => {
    let text = '';
    let sent = 0;
    const socket = net.connect(port, '127.0.0.1', () => { socket.write(chunks[sent] ?? ''); sent += 1; });
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (sent < chunks.length) { socket.write(chunks[sent] ?? ''); sent += 1; }
    });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
}

describe('detail-error-formatter', function () {
  const suite = gatewayInFront(() => ({
    steps: [
      step('detail-error-formatter'),
      // Core EG policies, each writing errors its own way, switched on by a request header.
      { terminate: [{ condition: { name: 'expression', expression: "req.headers['x-test'] === 'terminate-502'" }, action: { statusCode: 502, message: 'Bad gateway.' } }] },
      { 'basic-auth': [{ condition: { name: 'expression', expression: "req.headers['x-test'] === 'basic-auth'" } }] },
      { 'rate-limit': [{ condition: { name: 'expression', expression: "req.headers['x-test'] === 'core-rate-limit'" }, action: { max: 1, windowMs: 60000, delayMs: 0, delayAfter: 0, rateLimitBy: 'core-rl' } }] },
      { expression: [{ condition: { name: 'expression', expression: "req.headers['x-test'] === 'throw'" }, action: { jscode: "throw new Error('boom from a policy')" } }] },
      { expression: [{ condition: { name: 'expression', expression: "req.headers['x-test'] === 'reject'" }, action: { jscode: "Promise.reject(new Error('async boom'))" } }] },
      proxyStep({ maxBodyBytes: 1024, firstByteTimeoutMs: 500 }),
    ],
  }));

  beforeEach(() => suite.provider.reset());

  it('answers an unknown path with 404 {"detail":"Not Found"}', async function () {
    expectDetail(await call(`${suite.gateway.url}/no/such/path`), 404, MESSAGES.notFound);
  });

  it('answers a wrong method on a known path with 405 and Allow', async function () {
    const reply = await call(`${suite.gateway.url}/v1/chat`);
    expectDetail(reply, 405, MESSAGES.methodNotAllowed);
    expect(reply.headers.get('allow')).to.equal('POST');
  });

  it('passes a successful answer through unchanged, and the body upstream unchanged', async function () {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'ünïcödé ✓' }], temperature: 0.2 });
    const reply = await postChat(suite.gateway.url, {}, body);
    expect(reply.status).to.equal(200);
    expect(reply.json).to.have.nested.property('choices[0].message.content', 'hello');
    expect(suite.provider.seen[0]?.body).to.equal(body);
  });

  it('keeps a provider 4xx status with the provider message as detail', async function () {
    suite.provider.handler = afterBody((_req, res) => {
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'model "x" does not exist', type: 'invalid_request_error' } }));
    });
    expectDetail(await postChat(suite.gateway.url), 422, 'model "x" does not exist');
  });

  it('answers a malformed JSON body with 400 and a detail', async function () {
    suite.provider.handler = afterBody((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'We could not parse the JSON body of your request.' } }));
    });
    expectDetail(await postChat(suite.gateway.url, {}, '{"messages": [oops'), 400, 'We could not parse the JSON body of your request.');
  });

  it('keeps a provider 429 with its Retry-After', async function () {
    suite.provider.handler = afterBody((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests' } }));
    });
    const reply = await postChat(suite.gateway.url);
    expectDetail(reply, 429, 'Rate limit reached for requests');
    expect(reply.headers.get('retry-after')).to.equal('7');
  });

  it('turns a provider 5xx into 500 with the seed message', async function () {
    suite.provider.handler = afterBody((_req, res) => { res.writeHead(503, { 'content-type': 'text/html' }); res.end('<h1>down</h1>'); });
    expectDetail(await postChat(suite.gateway.url), 500, MESSAGES.internalError);
  });

  it('hides a provider 401 (our provider key is wrong) behind a 500', async function () {
    suite.provider.handler = afterBody((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided: sk-abc***xyz' } }));
    });
    const reply = await postChat(suite.gateway.url);
    expectDetail(reply, 500, MESSAGES.internalError);
    expect(reply.text).not.to.include('sk-abc');
  });

  it('answers 500 when the provider resets the connection', async function () {
    suite.provider.handler = afterBody((req) => req.socket.destroy());
    expectDetail(await postChat(suite.gateway.url), 500, MESSAGES.internalError);
  });

  it('answers 500 when the provider does not answer in time', async function () {
    suite.provider.handler = () => { /* never answers */ };
    const started = Date.now();
    expectDetail(await postChat(suite.gateway.url), 500, MESSAGES.internalError);
    expect(Date.now() - started).to.be.below(3000);
  });

  it('answers 413 for a body over the limit, with Content-Length', async function () {
    expectDetail(await postChat(suite.gateway.url, {}, JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(4000) }] })), 413, MESSAGES.payloadTooLarge);
    expect(suite.provider.seen).to.have.length(0);
  });

  it('answers 413 for a chunked body over the limit', async function () {
    const chunks = [CHAT_BODY.slice(0, 10), 'x'.repeat(3000), CHAT_BODY.slice(10)];
    const stream = new ReadableStream({ start(controller) { for (const c of chunks) controller.enqueue(new TextEncoder().encode(c)); controller.close(); } });
    const reply = await call(`${suite.gateway.url}/v1/chat`, { method: 'POST', body: stream, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expectDetail(reply, 413, MESSAGES.payloadTooLarge);
  });

  it("rewrites a core policy's text error (terminate 502 'Bad gateway.') to 500 JSON", async function () {
    expectDetail(await postChat(suite.gateway.url, { 'x-test': 'terminate-502' }), 500, MESSAGES.internalError);
  });

  it("rewrites the core auth callback's text 401 to the seed's 401", async function () {
    expectDetail(await postChat(suite.gateway.url, { 'x-test': 'basic-auth' }), 401, MESSAGES.unauthorized);
  });

  it("rewrites core rate-limit's text 429 and its 406 to the seed's 429", async function () {
    const first = await postChat(suite.gateway.url, { 'x-test': 'core-rate-limit' });
    expect(first.status).to.equal(200);
    expectDetail(await postChat(suite.gateway.url, { 'x-test': 'core-rate-limit', accept: 'text/plain' }), 429, MESSAGES.tooManyRequests);
    expectDetail(await postChat(suite.gateway.url, { 'x-test': 'core-rate-limit', accept: 'application/xml' }), 429, MESSAGES.tooManyRequests);
  });

  it('answers a thrown error with 500 and no stack trace', async function () {
    const reply = await postChat(suite.gateway.url, { 'x-test': 'throw' });
    expectDetail(reply, 500, MESSAGES.internalError);
    expect(reply.text).not.to.include('boom');
  });

  it('survives a rejected promise in a policy', async function () {
    const reply = await postChat(suite.gateway.url, { 'x-test': 'reject' });
    expect(reply.status).to.equal(200);
    // The log line is written asynchronously.
    expect(await eventually(() => suite.gateway.logs.includes('unhandled promise rejection'), 5000)).to.equal(true);
    expect(suite.gateway.hasExited).to.equal(false);
    expect((await postChat(suite.gateway.url)).status).to.equal(200);
  });

  it('answers a request Node cannot parse with a JSON 400, without crashing', async function () {
    const raw = await rawExchange(suite.gateway.port, ['POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n']);
    expect(raw).to.match(/^HTTP\/1\.1 400/);
    expect(raw).to.match(/content-type: application\/json/i);
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).to.equal('{"detail":"Bad Request"}');
    expect((await postChat(suite.gateway.url)).status).to.equal(200);
  });

  it('sends no second response when the body of an answered request turns out malformed', async function () {
    // The 404 goes out before the body is read; the broken chunk found afterwards belongs to the
    // same request, which must not get an unsolicited 400 behind its answer.
    const raw = await rawExchange(suite.gateway.port, ['POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', 'zz\r\nbroken\r\n']);
    expect(raw).to.match(/^HTTP\/1\.1 404/);
    expect(raw.match(/HTTP\/1\.1 /g)).to.have.length(1);
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).to.equal('{"detail":"Not Found"}');
  });

  it('answers a malformed request that follows an answered one on a kept-alive connection', async function () {
    const raw = await rawExchange(suite.gateway.port, [
      'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n',
    ]);
    const responses = raw.split(/(?=HTTP\/1\.1 )/);
    expect(responses).to.have.length(2);
    expect(responses[0]).to.match(/^HTTP\/1\.1 404/);
    expect(responses[1]).to.match(/^HTTP\/1\.1 400/);
    expect(responses[1]).to.match(/\r\n\r\n\{"detail":"Bad Request"\}$/);
  });
});

describe('detail-error-formatter with upstreamFailureStatus: gateway-error', function () {
  const suite = gatewayInFront(() => ({
    steps: [step('detail-error-formatter', { upstreamFailureStatus: 'gateway-error' }), proxyStep({ firstByteTimeoutMs: 300 })],
  }));

  it('answers 504 when the provider times out', async function () {
    suite.provider.handler = () => { /* never answers */ };
    expectDetail(await postChat(suite.gateway.url), 504, MESSAGES.internalError);
  });

  it('answers 502 when the provider answers 5xx', async function () {
    suite.provider.handler = afterBody((_req, res) => { res.writeHead(500); res.end('oops'); });
    expectDetail(await postChat(suite.gateway.url), 502, MESSAGES.internalError);
  });
});

describe('detail-error-formatter when the provider is down', function () {
  let gateway: Gateway;

  before(async function () {
    const upstream = await startProvider();
    const url = upstream.url;
    await upstream.stop();
    gateway = await startGateway({ providerUrl: url });
  });

  after(async () => gateway?.stop());

  it('answers 500 with the seed message when the provider refuses connections', async function () {
    expectDetail(await postChat(gateway.url), 500, MESSAGES.internalError);
  });
});
