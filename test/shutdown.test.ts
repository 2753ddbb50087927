// test/shutdown.test.ts
// SIGTERM against a real gateway child with an open event stream: the stream finishes in full,
// new connections are refused, and the process exits 0.

import http from 'node:http';
import { expect } from 'chai';
import { startGateway, type Gateway } from '../testkit/gateway';
import { call } from './helpers/http';
import { eventually } from '../testkit/wait';
import { afterBody, startProvider, type StandInProvider } from '../testkit/provider';

const EVENTS = 10;

describe('graceful shutdown', function () {
  this.timeout(30_000);
  let upstream: StandInProvider;
  let gateway: Gateway | undefined;

  before(async function () {
    upstream = await startProvider();
    // A slow stream: ten events over about 1.5 s.
    upstream.handler = afterBody((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        sent += 1;
        res.write(`data: {"n":${sent}}\n\n`);
        if (sent === EVENTS) { clearInterval(timer); res.end('data: [DONE]\n\n'); }
      }, 150);
    });
  });
  after(async function () {
    await gateway?.stop('SIGKILL');
    await upstream?.stop();
  });

  it('on SIGTERM finishes an open stream, refuses new connections and exits 0', async function () {
    gateway = await startGateway({ providerUrl: upstream.url, env: { SHUTDOWN_GRACE_MS: '10000' } });
    const g = gateway;
    let body = '';
    let firstChunk!: () => void;
    const started = new Promise<void>((resolve) => { firstChunk = resolve; });
    const streamDone = new Promise<{ status: number; complete: boolean }>((resolve, reject) => {
      const req = http.request(`${g.url}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { body += chunk; firstChunk(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, complete: res.complete }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    });
    await started;
    g.child.kill('SIGTERM');
    // Once the listener is closed, a new connection is refused while the stream goes on.
    expect(await eventually(async () => {
      try { await call(`${g.url}/v1/chat`); return false; } catch { return true; }
    }, 1_000, 20)).to.equal(true);
    expect(body).not.to.include('[DONE]');
    const result = await streamDone;
    expect(result.status).to.equal(200);
    expect(result.complete).to.equal(true);
    for (let n = 1; n <= EVENTS; n += 1) expect(body).to.include(`data: {"n":${n}}`);
    expect(body).to.include('data: [DONE]');
    expect(await g.waitForExit()).to.equal(0);
    expect(g.logs).to.include('shutdown complete');
  });

  it('cuts what is still open when the grace period ends, and still exits 0', async function () {
    upstream.handler = afterBody((_req, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write('data: {"n":1}\n\n'); });
    gateway = await startGateway({ providerUrl: upstream.url, env: { SHUTDOWN_GRACE_MS: '300' } });
    const g = gateway;
    const ended = new Promise<void>((resolve) => {
      const req = http.request(`${g.url}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.on('data', () => { g.child.kill('SIGTERM'); });
        res.on('close', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
      req.end('{}');
    });
    const startedAt = Date.now();
    await ended;
    expect(await g.waitForExit()).to.equal(0);
    expect(Date.now() - startedAt).to.be.lessThan(8_000);
  });
});
