// test/key-auth-reload.test.ts
// Keys change without a restart: through the keysFile (in-place writes and rename-replace, an
// invalid file keeping the previous keys) and through a real edit of gateway.config.yml, which
// must revoke a key within 3 s while other requests keep flowing; an invalid edit keeps the old keys.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { MESSAGES } from '../plugin/messages';
import { expectDetail } from './helpers/detail';
import { buildGatewayConfig, type Gateway, proxyStep, step } from '../testkit/gateway';
import { eventually, sleep } from '../testkit/wait';
import { postChat } from './helpers/http';
import { newKey, sha256 } from './key-auth-helpers';
import { gatewayInFront } from './helpers/gateway-fixture';
import { afterBody } from '../testkit/provider';

const REVOCATION_DEADLINE_MS = 3000;

const status = async (gateway: Gateway, key: string): Promise<number> => (await postChat(gateway.url, { 'X-API-Key': key })).status;

describe('key-auth keysFile', function () {
  const inlineKey = newKey();
  const fileKeys = { a: newKey(), b: newKey(), c: newKey() };
  const suite = gatewayInFront(() => ({
    files: { 'keys.yml': YAML.stringify([{ id: 'a', sha256: sha256(fileKeys.a) }, { id: 'b', key: fileKeys.b, expiresAt: '2999-01-01T00:00:00Z' }]) },
    steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'inline', key: inlineKey }], keysFile: 'keys.yml' }), proxyStep()],
  }));

  const writeKeysFile = (entries: unknown[]): void => suite.gateway.writeFile('keys.yml', YAML.stringify(entries));

  it('serves keys from the keysFile (relative to the config dir) merged with keys', async function () {
    expect(await status(suite.gateway, fileKeys.a)).to.equal(200);
    expect(await status(suite.gateway, fileKeys.b)).to.equal(200);
    expect(await status(suite.gateway, inlineKey)).to.equal(200);
    expect(await status(suite.gateway, fileKeys.c)).to.equal(401);
  });

  it('applies an in-place edit within 3 s: a new key works, a removed one gets 401', async function () {
    const written = Date.now();
    writeKeysFile([{ id: 'a', sha256: sha256(fileKeys.a) }, { id: 'c', sha256: sha256(fileKeys.c) }]);
    expect(await eventually(async () => (await status(suite.gateway, fileKeys.c)) === 200, REVOCATION_DEADLINE_MS)).to.equal(true);
    expectDetail(await postChat(suite.gateway.url, { 'X-API-Key': fileKeys.b }), 401, MESSAGES.unauthorized);
    expect(Date.now() - written).to.be.below(REVOCATION_DEADLINE_MS + 500);
    expect(await status(suite.gateway, fileKeys.a)).to.equal(200);
    expect(await status(suite.gateway, inlineKey)).to.equal(200);
  });

  it('applies a rename-replace (write a temp file, rename it over the keysFile) within 3 s', async function () {
    const temp = path.join(suite.gateway.configDir, 'keys.yml.tmp');
    fs.writeFileSync(temp, YAML.stringify([{ id: 'b', key: fileKeys.b }, { id: 'c', sha256: sha256(fileKeys.c), disabled: true }]));
    fs.renameSync(temp, path.join(suite.gateway.configDir, 'keys.yml'));
    // Waits for the whole new key set: whichever keys served before, only this file gives all three answers.
    const applied = async (): Promise<boolean> => (await status(suite.gateway, fileKeys.b)) === 200
      && (await status(suite.gateway, fileKeys.c)) === 401 && (await status(suite.gateway, fileKeys.a)) === 401;
    expect(await eventually(applied, REVOCATION_DEADLINE_MS)).to.equal(true);
    expect(await status(suite.gateway, fileKeys.b)).to.equal(200);
    expect(await status(suite.gateway, fileKeys.c)).to.equal(401);
    expect(await status(suite.gateway, fileKeys.a)).to.equal(401);
  });

  it('keeps the previous keys when the keysFile becomes invalid, and logs an error without key material', async function () {
    const leaked = newKey();
    // The previous keys: b, and not a (which start-up served), so the check below tells them apart.
    writeKeysFile([{ id: 'b', key: fileKeys.b }]);
    expect(await eventually(async () => (await status(suite.gateway, fileKeys.b)) === 200 && (await status(suite.gateway, fileKeys.a)) === 401, REVOCATION_DEADLINE_MS)).to.equal(true);
    const offset = suite.gateway.logs.length;
    const logged = (): string => suite.gateway.logs.slice(offset);
    // Bad YAML whose offending line holds a key: the parser's message would quote it.
    suite.gateway.writeFile('keys.yml', `- id: x\n  key: ${leaked}\n  - broken: [\n`);
    expect(await eventually(() => logged().includes('the keysFile is invalid'), REVOCATION_DEADLINE_MS)).to.equal(true);
    expect(await status(suite.gateway, fileKeys.b)).to.equal(200);
    // A well-formed file that breaks the rules (an entry with both key and sha256) too.
    writeKeysFile([{ id: 'b', key: fileKeys.b }, { id: 'both', key: leaked, sha256: sha256(leaked) }]);
    expect(await eventually(() => /keysFile\[1\] needs exactly one of key and sha256/.test(logged()), REVOCATION_DEADLINE_MS)).to.equal(true);
    expect(await status(suite.gateway, fileKeys.b)).to.equal(200);
    expect(await status(suite.gateway, leaked)).to.equal(401);
    // Valid on its own, but its id clashes with an inline key: the previous keys stay too.
    writeKeysFile([{ id: 'inline', key: leaked }]);
    expect(await eventually(async () => (await status(suite.gateway, fileKeys.b)) === 200 && logged().includes('the keysFile conflicts with keys'), REVOCATION_DEADLINE_MS)).to.equal(true);
    expect(logged()).to.match(/duplicate id \\?"inline\\?" in keys\[0\] and keysFile\[0\]/);
    expect(await status(suite.gateway, leaked)).to.equal(401);
    expect(await status(suite.gateway, inlineKey)).to.equal(200);
    expect(suite.gateway.logs).not.to.include(leaked);
    expect(suite.gateway.logs).not.to.include(sha256(leaked));
  });
});

describe('key-auth reload of gateway.config.yml', function () {
  const keys = { revoked: newKey(), steady: newKey(), added: newKey(), current: newKey() };
  const suite = gatewayInFront(() => ({
    steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'revoked', key: keys.revoked }, { id: 'steady', sha256: sha256(keys.steady) }] }), proxyStep()],
  }));

  before(function () {
    // A slow provider, so some requests are in flight when the router is swapped.
    suite.provider.handler = afterBody((_req, res) => setTimeout(() => res.end(JSON.stringify({ ok: true })), 100));
  });

  const configWith = (entries: unknown[]): Record<string, unknown> => buildGatewayConfig({
    port: suite.gateway.port, providerUrl: suite.provider.url,
    steps: [step('detail-error-formatter'), step('key-auth', { keys: entries }), proxyStep()],
  });

  it('revokes a key within 3 s of a real edit while requests with other keys keep succeeding', async function () {
    this.timeout(20_000);
    expect(await status(suite.gateway, keys.revoked)).to.equal(200);
    let flowing = true;
    const steadyStatuses: number[] = [];
    const workers = Array.from({ length: 4 }, async () => {
      while (flowing) steadyStatuses.push(await status(suite.gateway, keys.steady));
    });
    await sleep(300);
    const written = Date.now();
    suite.gateway.writeGatewayConfig(configWith([{ id: 'steady', sha256: sha256(keys.steady) }, { id: 'added', key: keys.added }]));
    let revokedAfter = Number.POSITIVE_INFINITY;
    await eventually(async () => {
      if ((await status(suite.gateway, keys.revoked)) !== 401) return false;
      revokedAfter = Date.now() - written;
      return true;
    }, 10_000, 25);
    await sleep(500);
    flowing = false;
    await Promise.all(workers);
    if (process.env['KEY_AUTH_TEST_VERBOSE']) process.stdout.write(`      revoked ${revokedAfter} ms after the edit; ${steadyStatuses.length} other requests meanwhile\n`);
    expect(revokedAfter, `revoked after ${revokedAfter} ms`).to.be.at.most(REVOCATION_DEADLINE_MS);
    expect(await status(suite.gateway, keys.revoked)).to.equal(401);
    expect(await status(suite.gateway, keys.added)).to.equal(200);
    expect(steadyStatuses.length).to.be.above(10);
    expect(steadyStatuses.filter((s) => s !== 200), 'requests failed during the reload').to.deep.equal([]);
  });

  it('keeps serving the old keys when an edit makes key-auth params invalid', async function () {
    this.timeout(20_000);
    // The old keys: a set no other test serves, applied by a real edit first.
    suite.gateway.writeGatewayConfig(configWith([{ id: 'steady', sha256: sha256(keys.steady) }, { id: 'current', key: keys.current }]));
    expect(await eventually(async () => (await status(suite.gateway, keys.current)) === 200, 10_000), 'the old keys applied').to.equal(true);
    const before = suite.gateway.logs.length;
    suite.gateway.writeGatewayConfig(configWith([{ id: 'steady', key: keys.steady, sha256: sha256(keys.steady) }]));
    // EG logs the failed validation (naming the entry) and keeps the router it had.
    expect(await eventually(() => /key-auth[^\n]*params validation failed[^\n]*keys\[0\]/.test(suite.gateway.logs.slice(before)), 6000)).to.equal(true);
    await sleep(500);
    expect(suite.gateway.hasExited).to.equal(false);
    expect(await status(suite.gateway, keys.steady)).to.equal(200);
    expect(await status(suite.gateway, keys.current)).to.equal(200);
    expect(await status(suite.gateway, keys.revoked)).to.equal(401);
  });
});
