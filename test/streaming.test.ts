// test/streaming.test.ts
// proxy, server-sent events: each event reaches the client as the provider sends it, the stream
// is marked unbuffered and uncompressed, and a stream the provider abandons or lets go quiet ends
// with a last `data: {"detail": ...}` event instead of hanging.

import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { MESSAGES } from '../plugin/messages';
import { proxyStep, step } from '../testkit/gateway';
import { eventually } from '../testkit/wait';
import { postChat } from './helpers/http';
import { openStream } from './helpers/event-stream';
import { streamEvents, type Exchange } from '../testkit/provider';
import { gatewayInFront } from './helpers/gateway-fixture';

const STREAM_BODY = JSON.stringify({ model: 'stub', stream: true, messages: [{ role: 'user', content: 'hello' }] });
const IDLE_MS = 500;
const FIRST_BYTE_MS = 1000;
const DETAIL_EVENT = JSON.stringify({ detail: MESSAGES.internalError });

/** A provider that sends one event, then `second` after `secondAtMs`, then drops the connection at `dieAtMs`. */
function diesMidStream(second: string, secondAtMs: number, dieAtMs: number): (exchange: Exchange) => void {
  return (exchange) => {
    void exchange.body.then(() => {
      exchange.res.writeHead(200, { 'content-type': 'text/event-stream' });
      exchange.res.write('data: {"n":0}\n\n');
      setTimeout(() => exchange.res.write(second), secondAtMs);
      setTimeout(() => exchange.req.socket.destroy(), dieAtMs);
    });
  };
}

describe('proxy: server-sent events', function () {
  const suite = gatewayInFront(() => ({
    steps: [step('detail-error-formatter'), proxyStep({ idleTimeoutMs: IDLE_MS, firstByteTimeoutMs: FIRST_BYTE_MS })],
  }));

  afterEach(() => suite.provider.reset());

  it('passes each event to the client within 20 ms of the provider sending it, for longer than every timeout', async function () {
    // 15 events 100 ms apart: 1.5 s, longer than the first-byte (1 s) and idle (0.5 s) timeouts,
    // so neither acts as a limit on the whole stream (the total timeout's default is 10 minutes).
    let sentAt: number[] = [];
    suite.provider.handler = (exchange) => { void exchange.body.then(() => { sentAt = streamEvents(suite.provider, exchange, 15, 100); }); };
    const stream = await openStream(`${suite.gateway.url}/v1/chat/completions`, STREAM_BODY);
    const done = await stream.done;
    expect(stream.status).to.equal(200);
    expect(done.how).to.equal('end');
    expect(stream.events.map((e) => e.data)).to.deep.equal([...Array.from({ length: 15 }, (_, n) => JSON.stringify({ n })), '[DONE]']);
    const delays = stream.events.slice(0, 15).map((event, n) => event.at - (sentAt[n] as number));
    if (process.env['REPORT_FIGURES']) console.log(`    SSE delay provider→client: max ${Math.max(...delays).toFixed(2)} ms, all ${delays.map((d) => d.toFixed(1)).join(' ')}`);
    for (const [n, delay] of delays.entries()) expect(delay, `event ${n} arrived ${delay.toFixed(1)} ms after it was sent`).to.be.below(20);
    // Arrivals keep the provider's rhythm: nothing was held back and released in a burst.
    for (let n = 1; n < 15; n += 1) expect((stream.events[n]?.at ?? 0) - (stream.events[n - 1]?.at ?? 0)).to.be.above(60);
  });

  it('marks the stream unbuffered and uncached, without Content-Length or compression', async function () {
    suite.provider.handler = (exchange) => { void exchange.body.then(() => streamEvents(suite.provider, exchange, 2, 20, { headers: { 'cache-control': 'max-age=60' } })); };
    const stream = await openStream(`${suite.gateway.url}/v1/chat`, STREAM_BODY, { 'accept-encoding': 'gzip, deflate, br' });
    await stream.done;
    expect(stream.status).to.equal(200);
    expect(stream.headers['content-type']).to.match(/^text\/event-stream/);
    expect(stream.headers['x-accel-buffering']).to.equal('no');
    expect(stream.headers['cache-control']).to.equal('no-cache');
    expect(stream.headers['content-length']).to.equal(undefined);
    expect(stream.headers['content-encoding']).to.equal(undefined);
    expect(stream.headers['transfer-encoding']).to.equal('chunked');
    // The client asked for compression; the provider was asked for none, so events stay readable.
    expect(suite.provider.exchanges[0]?.headers['accept-encoding']).to.equal('identity');
    expect(stream.events.map((e) => e.data)).to.deep.equal(['{"n":0}', '{"n":1}', '[DONE]']);
  });

  it('ends a stream whose provider dies after two events with a last detail event', async function () {
    suite.provider.handler = diesMidStream('data: {"n":1}\n\n', 50, 100);
    const started = performance.now();
    const stream = await openStream(`${suite.gateway.url}/v1/chat`, STREAM_BODY);
    const done = await stream.done;
    expect(done.how).to.equal('end');
    expect(done.at - started).to.be.below(2000);
    expect(stream.events.map((e) => e.data)).to.deep.equal(['{"n":0}', '{"n":1}', DETAIL_EVENT]);
  });

  it('keeps the last detail event whole when the provider dies inside an event', async function () {
    suite.provider.handler = diesMidStream('data: {"n":', 30, 80);
    const stream = await openStream(`${suite.gateway.url}/v1/chat`, STREAM_BODY);
    expect((await stream.done).how).to.equal('end');
    expect(stream.events[0]?.data).to.equal('{"n":0}');
    expect(stream.events.at(-1)?.data).to.equal(DETAIL_EVENT);
  });

  it('ends a stream that goes quiet for idleTimeoutMs with a last detail event, and hangs up on the provider', async function () {
    let firstSentAt = 0;
    suite.provider.handler = (exchange) => {
      void exchange.body.then(() => {
        exchange.res.writeHead(200, { 'content-type': 'text/event-stream' });
        firstSentAt = performance.now();
        exchange.res.write('data: {"n":0}\n\n');
        // ... and nothing more.
      });
    };
    const stream = await openStream(`${suite.gateway.url}/v1/chat`, STREAM_BODY);
    const done = await stream.done;
    expect(done.how).to.equal('end');
    expect(stream.events.map((e) => e.data)).to.deep.equal(['{"n":0}', DETAIL_EVENT]);
    const quietFor = (stream.events[1]?.at ?? 0) - firstSentAt;
    expect(quietFor).to.be.within(IDLE_MS - 20, IDLE_MS + 1500);
    expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
  });

  it('answers a streamed request the provider refuses with its status and a detail body', async function () {
    suite.provider.handler = (exchange) => {
      void exchange.body.then(() => {
        exchange.res.writeHead(400, { 'content-type': 'application/json' });
        exchange.res.end(JSON.stringify({ error: { message: "'messages' is a required property" } }));
      });
    };
    const reply = await postChat(suite.gateway.url, { accept: 'text/event-stream' }, JSON.stringify({ stream: true }), '/v1/chat/completions');
    expect(reply.status).to.equal(400);
    expect(reply.headers.get('content-type')).to.match(/^application\/json/);
    expect(reply.json).to.deep.equal({ detail: "'messages' is a required property" });
  });
});
