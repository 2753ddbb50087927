// test/regressions/connections-exhaust-file-descriptors.test.ts
// Issue 13: the public listener had no connection cap and Node's client timeouts. With
// `ulimit -n 1024`, 1,100 idle sockets made every new connection reset, /healthz included, and a
// slowloris socket lived ~90 s. Now the cap is derived from the fd limit (keeping headroom for
// the provider, Redis and the ops listener); connections over it get the contract's 500 and are
// counted and logged; headers must arrive within 10 s and idle keep-alive sockets close after 5 s.

import { expect } from 'chai';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SETTINGS } from '../../plugin/settings';
import { defaultMaxConnections } from '../../plugin/http/server-limits';
import { proxyStep, startGateway, step, type Gateway } from '../../testkit/gateway';
import { call, postChat } from '../helpers/http';
import { eventually, sleep } from '../../testkit/wait';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const FD_LIMIT = 1024;

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One request on a fresh connection; what came back before the server closed it. */
function rawRequest(port: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /nope HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
}

const sample = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('regression: idle connections exhausted the file descriptors (issue 13)', function () {
  this.timeout(60_000);
  let upstream: StandInProvider;
  let gateway: Gateway;
  const idle: net.Socket[] = [];

  before(async () => {
    upstream = await startProvider();
    gateway = await startGateway({ providerUrl: upstream.url, fdLimit: FD_LIMIT, steps: [step('detail-error-formatter'), proxyStep()] });
  });
  after(async () => {
    for (const socket of idle) socket.destroy();
    await gateway?.stop();
    await upstream?.stop();
  });

  it('caps connections below the fd limit and answers those over it with the contract\'s 500, counted and logged', async function () {
    const cap = defaultMaxConnections(FD_LIMIT);
    expect(cap).to.be.below(FD_LIMIT / 2);
    // More idle sockets than the process has descriptors, as in the report.
    for (let i = 0; i < 1_100; i += 1) idle.push(await connect(gateway.port).catch(() => new net.Socket()));
    // A flood of refusals is closed without an answer (each would hold a descriptor while it is
    // written); once it has passed, a refused client reads why.
    await sleep(500);
    const refused = await rawRequest(gateway.port);
    expect(refused.split('\r\n')[0]).to.equal('HTTP/1.1 500 Internal Server Error');
    expect(refused).to.include('{"detail":"Internal server error occurred while processing your request"}');
    // The ops listener and the connections already open still work.
    expect((await call(`${gateway.opsUrl}/healthz`)).status).to.equal(200);
    const metrics = (await call(`${gateway.opsUrl}/metrics`)).text;
    expect(sample(metrics, 'http_open_connections')).to.equal(cap);
    expect(sample(metrics, 'http_connections_refused_total')).to.be.at.least(1_100 - cap);
    expect(await eventually(() => gateway.logs.includes('WRN_CONNECTION_CAP'), 3_000)).to.equal(true);
    // Room again once idle clients leave.
    for (const socket of idle.splice(0)) socket.destroy();
    expect(await eventually(async () => (await postChat(gateway.url)).status === 200, 5_000)).to.equal(true);
  });

  it('closes a connection whose headers do not arrive within headersTimeoutMs, and idle keep-alive ones after keepAliveTimeoutMs', async function () {
    const started = performance.now();
    const slowloris = await connect(gateway.port);
    const trickle = setInterval(() => slowloris.write('x-slow: 1\r\n'), 500);
    slowloris.write('POST /v1/chat HTTP/1.1\r\nhost: localhost\r\n');
    let answer = '';
    slowloris.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8'); });
    const slowClosed = new Promise<number>((resolve) => slowloris.on('close', () => resolve(performance.now() - started)));

    const keepAlive = await connect(gateway.port);
    keepAlive.write('POST /v1/chat HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    const idleSince = new Promise<number>((resolve) => keepAlive.once('data', () => resolve(performance.now())));
    const idleClosed = new Promise<number>((resolve) => keepAlive.on('close', () => resolve(performance.now())));
    const idleFor = (await idleClosed) - (await idleSince);
    expect(idleFor).to.be.within(DEFAULT_SETTINGS.keepAliveTimeoutMs - 100, DEFAULT_SETTINGS.keepAliveTimeoutMs + 1_500);

    const slowFor = await slowClosed;
    clearInterval(trickle);
    expect(slowFor).to.be.within(DEFAULT_SETTINGS.headersTimeoutMs - 100, DEFAULT_SETTINGS.headersTimeoutMs + 1_500);
    expect(answer.split('\r\n')[0]).to.equal('HTTP/1.1 408 Request Timeout');
  });
});
