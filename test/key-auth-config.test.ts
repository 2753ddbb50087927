// test/key-auth-config.test.ts
// key-auth's params are checked at start-up: a bad entry stops the gateway (exit 1) with a message
// naming the entry. Also `npm run key`, which prints a new key and the entry to paste. (The
// README's parameter table is checked against the schema in contract.test.ts.)

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { proxyStep, REPO_ROOT, startGateway, step } from '../testkit/gateway';
import { newKey, sha256 } from './key-auth-helpers';

const UPSTREAM_URL = 'http://127.0.0.1:9'; // never called: the gateway must not start

async function startupFailure(action: Record<string, unknown>, files: Record<string, string> = {}): Promise<{ code: number | null; logs: string }> {
  const gateway = await startGateway({
    providerUrl: UPSTREAM_URL, expectExit: true, files, env: { EG_DISABLE_CONFIG_WATCH: '1' },
    steps: [step('detail-error-formatter'), step('key-auth', action), proxyStep()],
  });
  const code = await gateway.stop();
  return { code, logs: gateway.logs };
}

describe('key-auth params at start-up', function () {
  this.timeout(60_000);
  const good = { id: 'good', key: newKey() };
  const cases: Array<[string, Record<string, unknown>, RegExp, Record<string, string>?]> = [
    ['an entry without id', { keys: [good, { key: newKey() }] }, /keys\[1\][^\n]*required property 'id'/],
    ['an entry with both key and sha256', { keys: [good, { id: 'both', key: 'k', sha256: sha256('k') }] }, /keys\[1\][^\n]*(oneOf|exactly one)/],
    ['an entry with neither key nor sha256', { keys: [good, { id: 'none' }] }, /keys\[1\][^\n]*(oneOf|exactly one)/],
    ['a malformed sha256', { keys: [good, { id: 'short', sha256: 'abc123' }] }, /keys\[1\]\.sha256[^\n]*pattern/],
    ['a rateLimit of zero', { keys: [good, { id: 'zero', key: 'k', rateLimit: { capacity: 0, refillRate: 1 } }] }, /keys\[1\]\.rateLimit\.capacity/],
    ['an expiresAt that is not a date', { keys: [good, { id: 'soon', key: 'k', expiresAt: 'next tuesday' }] }, /keys\[1\] \(id "soon"\): expiresAt "next tuesday" is not an ISO 8601 date/],
    ['two entries with one id', { keys: [good, { id: 'good', key: newKey() }] }, /duplicate id "good" in keys\[0\] and keys\[1\]/],
    ['two entries with one key', { keys: [good, { id: 'twin', sha256: sha256(good.key) }] }, /duplicate key in keys\[0\] \(id "good"\) and keys\[1\] \(id "twin"\)/],
    ['a keysFile that does not exist', { keysFile: 'missing.yml' }, /keysFile "missing\.yml": cannot read [^\n]*ENOENT/],
    ['a keysFile entry clashing with keys', { keys: [good], keysFile: 'keys.json' }, /duplicate id "good" in keys\[0\] and keysFile\[0\]/, { 'keys.json': JSON.stringify({ keys: [{ id: 'good', sha256: sha256('x') }] }) }],
  ];
  for (const [what, action, message, files] of cases) {
    it(`refuses to start on ${what}, naming the entry`, async function () {
      const { code, logs } = await startupFailure(action, files);
      expect(code, logs).to.equal(1);
      expect(logs).to.match(message);
      expect(logs).not.to.include(good.key);
    });
  }
});

describe('npm run key', function () {
  const script = path.join(REPO_ROOT, 'dist', 'plugin', 'cli', 'new-key.js');

  it('prints a new 256-bit base64url key and the { id, sha256 } entry for it', async function () {
    const run = async (): Promise<{ key: string; id: string; hash: string }> => {
      const { stdout } = await promisify(execFile)(process.execPath, [script, 'team-a']);
      const key = /^key: (\S+)$/m.exec(stdout)?.[1] ?? '';
      const id = /^- id: "?([^"\n]+)"?$/m.exec(stdout)?.[1] ?? '';
      const hash = /^ {2}sha256: ([0-9a-f]{64})$/m.exec(stdout)?.[1] ?? '';
      return { key, id, hash };
    };
    const first = await run();
    const second = await run();
    expect(first.key).to.match(/^[A-Za-z0-9_-]{43,}$/);
    expect(Buffer.from(first.key, 'base64url')).to.have.length(32);
    expect(first.id).to.equal('team-a');
    expect(first.hash).to.equal(sha256(first.key));
    expect(second.key).not.to.equal(first.key);
  });

  it('exits 2 with a usage line when no id is given', async function () {
    const error = await promisify(execFile)(process.execPath, [script]).then(() => undefined, (e: unknown) => e as { code: number; stderr: string });
    expect(error?.code).to.equal(2);
    expect(error?.stderr).to.include('usage: npm run key -- <id>');
  });
});
