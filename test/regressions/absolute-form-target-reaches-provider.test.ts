// test/regressions/absolute-form-target-reaches-provider.test.ts
// Issue 13, defect 4: `POST http://evil.example/v1/chat HTTP/1.1` with a valid key reached the
// provider with that absolute-form target. A server behind the provider URL may route by it
// (RFC 9112 §3.2.2), so a key holder could pick the virtual host that receives our provider key.
// The provider now always gets origin-form (`/path?query`) and its own Host.

import { expect } from 'chai';
import net from 'node:net';
import { proxyStep, step } from '../../testkit/gateway';
import { gatewayInFront } from '../helpers/gateway-fixture';
import { CHAT_BODY } from '../helpers/http';
import { newKey } from '../key-auth-helpers';

const KEY = newKey();

/** One request written as raw bytes; resolves with the status line's code (0 for none). */
function rawRequest(port: number, target: string, host: string): Promise<number> {
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST ${target} HTTP/1.1\r\nHost: ${host}\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\n`
        + `Content-Length: ${Buffer.byteLength(CHAT_BODY)}\r\nConnection: close\r\n\r\n${CHAT_BODY}`);
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', () => undefined);
  });
}

describe('regression: an absolute-form request target reaches the provider as sent', function () {
  const suite = gatewayInFront(() => ({
    steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'k', key: KEY }] }), proxyStep()],
  }));

  afterEach(() => suite.provider.reset());

  for (const target of ['http://evil.example/v1/chat', 'http://evil.example:8443/v1/chat?model=x', 'HTTPS://evil.example/v1/chat/completions']) {
    it(`sends origin-form and the provider's Host for ${target}`, async function () {
      expect(await rawRequest(suite.gateway.port, target, 'evil.example')).to.equal(200);
      const seen = suite.provider.seen[0];
      expect(seen?.url).to.equal(target.replace(/^[a-z]+:\/\/[^/]+/i, ''));
      expect(seen?.headers['host']).to.equal(`127.0.0.1:${suite.provider.port}`);
      expect(JSON.stringify(seen?.headers)).not.to.include('evil.example');
    });
  }

  it("sends an origin-form target unchanged, with the provider's Host instead of the client's", async function () {
    expect(await rawRequest(suite.gateway.port, '/v1/chat?model=x', 'evil.example')).to.equal(200);
    expect(suite.provider.seen[0]?.url).to.equal('/v1/chat?model=x');
    expect(suite.provider.seen[0]?.headers['host']).to.equal(`127.0.0.1:${suite.provider.port}`);
  });
});
