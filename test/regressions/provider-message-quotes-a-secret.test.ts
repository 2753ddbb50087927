// test/regressions/provider-message-quotes-a-secret.test.ts
// Issue 13, defect 3: only provider 401/403/407 messages were hidden, so a provider 400 that quotes
// the request ("... you sent Bearer prov-secret-...") handed our provider key to the client in
// `detail`. Every configured secret (the provider key, every plain client key, inline or from the
// keysFile) is now replaced in every provider message passed on, and the message is capped.

import { expect } from 'chai';
import { expectDetail } from '../helpers/detail';
import { proxyStep, step } from '../../testkit/gateway';
import { gatewayInFront } from '../helpers/gateway-fixture';
import { eventually } from '../../testkit/wait';
import { postChat } from '../helpers/http';
import { newKey } from '../key-auth-helpers';
import { afterBody } from '../../testkit/provider';

const PROVIDER_KEY = `prov-secret-${newKey()}`;
const CLIENT_KEY = newKey();
const FILE_KEY = newKey();
const LATER_KEY = newKey();
const REDACTED = '[redacted]';
/** The longest detail passed on: the cap, plus its ellipsis. */
const MAX_DETAIL_CHARS = 1001;

const keysFile = (keys: Array<{ id: string; key: string }>): string => keys.map(({ id, key }) => `- id: ${id}\n  key: ${key}\n`).join('');

describe('regression: a provider message that quotes a secret reaches the client', function () {
  let message = '';
  let contentType = 'application/json';
  const suite = gatewayInFront(() => ({
    env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY },
    files: { 'keys.yml': keysFile([{ id: 'file', key: FILE_KEY }]) },
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [{ id: 'inline', key: CLIENT_KEY }], keysFile: 'keys.yml' }),
      proxyStep(),
    ],
  }));

  beforeEach(function () {
    contentType = 'application/json';
    suite.provider.handler = afterBody((_req, res) => {
      res.writeHead(400, { 'content-type': contentType });
      res.end(contentType === 'application/json' ? JSON.stringify({ error: { message, type: 'invalid_request_error' } }) : message);
    });
  });

  const ask = (key = CLIENT_KEY) => postChat(suite.gateway.url, { 'X-API-Key': key });

  it('replaces the provider key quoted in a provider 400', async function () {
    message = `Invalid 'authorization' header: you sent Bearer ${PROVIDER_KEY} with a bad model`;
    const reply = await ask();
    expectDetail(reply, 400, `Invalid 'authorization' header: you sent Bearer ${REDACTED} with a bad model`);
    expect(reply.text).not.to.include(PROVIDER_KEY).and.not.to.include(PROVIDER_KEY.slice(-16));
  });

  it('replaces client keys, inline and from the keysFile, in JSON and in text messages', async function () {
    message = `keys ${CLIENT_KEY} and ${FILE_KEY} are not ours`;
    expectDetail(await ask(), 400, `keys ${REDACTED} and ${REDACTED} are not ours`);
    contentType = 'text/plain';
    expectDetail(await ask(FILE_KEY), 400, `keys ${REDACTED} and ${REDACTED} are not ours`);
  });

  it('replaces a key added to the keysFile after start-up', async function () {
    suite.gateway.writeFile('keys.yml', keysFile([{ id: 'file', key: FILE_KEY }, { id: 'later', key: LATER_KEY }]));
    message = 'no secret here';
    expect(await eventually(async () => (await ask(LATER_KEY)).status === 400, 5000)).to.equal(true);
    message = `you sent ${LATER_KEY}`;
    expectDetail(await ask(), 400, `you sent ${REDACTED}`);
  });

  it('caps a long message without leaving part of a secret at the cut', async function () {
    message = `${'x'.repeat(995)}${PROVIDER_KEY}${'y'.repeat(5000)}`;
    const reply = await ask();
    expectDetail(reply, 400);
    const detail = (reply.json as { detail: string }).detail;
    expect(detail.length).to.be.at.most(MAX_DETAIL_CHARS);
    expect(detail).to.match(/^x{995}\[red/);
    expect(detail).not.to.include(PROVIDER_KEY.slice(0, 5));
  });

  it('keeps every secret out of the logs', async function () {
    message = `you sent Bearer ${PROVIDER_KEY} and ${CLIENT_KEY}`;
    await ask();
    for (const secret of [PROVIDER_KEY, CLIENT_KEY, FILE_KEY, LATER_KEY]) expect(suite.gateway.logs).not.to.include(secret);
  });

  it('still passes on a message that quotes no secret, word for word', async function () {
    message = "'messages' is a required property";
    expectDetail(await ask(), 400, message);
  });
});
