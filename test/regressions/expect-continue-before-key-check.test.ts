// test/regressions/expect-continue-before-key-check.test.ts
// Issue 13: `Expect: 100-continue` was answered `100 Continue` by Node before the key was
// checked, inviting the body of a request that was going to get 401. Now the body is invited only
// once the pipeline is about to read it.

import { expect } from 'chai';
import net from 'node:net';
import { proxyStep, step } from '../../testkit/gateway';
import { CHAT_BODY } from '../helpers/http';
import { gatewayInFront } from '../helpers/gateway-fixture';

const KEY = 'expect-continue-key-0123456789abcdef0123';

/** Sends the head of a POST that waits for 100 Continue; sends the body only once invited. */
function expectingPost(port: number, key: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /v1/chat HTTP/1.1\r\nhost: localhost\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\n`
        + `content-length: ${Buffer.byteLength(CHAT_BODY)}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      const first = text === '';
      text += chunk.toString('utf8');
      if (first && text.startsWith('HTTP/1.1 100')) socket.write(CHAT_BODY);
    });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
    setTimeout(() => socket.destroy(), 5_000).unref();
  });
}

describe('regression: Expect: 100-continue was answered before the key was checked (issue 13)', function () {
  const suite = gatewayInFront(() => ({
    steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'k', key: KEY }] }), proxyStep()],
  }));

  beforeEach(() => suite.provider.reset());

  it('answers a bad key with 401 and never invites its body', async function () {
    const answer = await expectingPost(suite.gateway.port, 'wrong-key');
    expect(answer.split('\r\n')[0]).to.equal('HTTP/1.1 401 Unauthorized');
    expect(answer).not.to.include('100 Continue');
    expect(answer).to.include('{"detail":"Invalid or missing API Key"}');
    expect(suite.provider.seen).to.have.length(0);
  });

  it('invites the body of an admitted request, which then reaches the provider', async function () {
    const answer = await expectingPost(suite.gateway.port, KEY);
    expect(answer.split('\r\n')[0]).to.equal('HTTP/1.1 100 Continue');
    expect(answer).to.include('HTTP/1.1 200 OK');
    expect(suite.provider.seen[0]?.body).to.equal(CHAT_BODY);
    expect(suite.provider.seen[0]?.headers).not.to.have.property('expect');
  });
});
