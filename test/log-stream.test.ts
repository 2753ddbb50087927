// test/log-stream.test.ts
// One log stream: everything the gateway writes to stdout, EG's own winston lines included, is a
// JSON line with level, time and msg, without colour codes, and no line carries a client key or
// the provider key, through refused keys, provider errors and a config reload whose YAML error
// sits on the line holding a key. LOG_LEVEL governs our logger and EG's alike.

import { expect } from 'chai';
import YAML from 'yaml';
import { buildGatewayConfig, proxyStep, startGateway, step, type Gateway, type GatewayPorts } from '../testkit/gateway';
import { afterBody, sendJson, startProvider, type StandInProvider } from '../testkit/provider';
import { waitFor } from '../testkit/wait';
import { newKey, sha256 } from './key-auth-helpers';
import { postChat } from './helpers/http';
import { metricValue } from './helpers/metrics';

const CLIENT_KEY = newKey();
const PROVIDER_KEY = `prov-secret-${newKey()}`;
/** The key reaches the config through the environment, as an operator's would: EG substitutes it into the text it parses. */
const KEY_ENV = 'LOG_TEST_CLIENT_KEY';
const ANSI = /\u001b\[/;
const CORE_LOG_MESSAGE = 'the core log policy saw a request';
const PINO_INFO = 30;
const PINO_WARN = 40;

interface LogLine { level: number; time: number; msg: string; eg?: string }

function gatewayConfig(ports: GatewayPorts, providerUrl: string): Record<string, unknown> {
  return buildGatewayConfig({
    port: ports.port,
    providerUrl,
    // EG's core `log` policy makes its winston logger after start-up: it must write JSON too.
    steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'log-test', key: `\${${KEY_ENV}}` }] }), step('log', { message: CORE_LOG_MESSAGE }), proxyStep()],
  });
}

/** The same config with a YAML error on the key's line (after substitution the line holds the key itself). */
const brokenOnKeyLine = (config: Record<string, unknown>): string => YAML.stringify(config).replace(`key: \${${KEY_ENV}}`, `key: \${${KEY_ENV}} : broken`);

/** Every stdout line, parsed; fails naming the first line that is not a JSON log line. */
function parseStdout(stdout: string): LogLine[] {
  const lines = stdout.split('\n').filter((line) => line !== '');
  return lines.map((line) => {
    expect(line, 'no colour codes').not.to.match(ANSI);
    let parsed: unknown;
    expect(() => { parsed = JSON.parse(line); }, `not JSON: ${line}`).not.to.throw();
    expect(parsed, line).to.be.an('object').that.includes.keys('level', 'time', 'msg');
    const entry = parsed as LogLine;
    expect(entry.level, line).to.be.a('number');
    expect(entry.time, line).to.be.a('number');
    expect(entry.msg, line).to.be.a('string');
    return entry;
  });
}

async function startLogged(provider: StandInProvider, logLevel: string): Promise<{ gateway: Gateway; config: Record<string, unknown> }> {
  let config: Record<string, unknown> = {};
  const gateway = await startGateway({
    providerUrl: provider.url,
    // FORCE_COLOR makes EG's chalk colour names in its messages even on a pipe; SIGHUP reloads only.
    env: { LOG_LEVEL: logLevel, LLM_PROVIDER_API_KEY: PROVIDER_KEY, [KEY_ENV]: CLIENT_KEY, FORCE_COLOR: '1', EG_DISABLE_CONFIG_WATCH: '1' },
    gatewayConfig: (ports) => { config = gatewayConfig(ports, provider.url); return config; },
  });
  return { gateway, config };
}

/** Writes a config whose YAML breaks on the key's line, reloads with SIGHUP, and waits for the refusal. */
async function reloadBrokenConfig(gateway: Gateway, config: Record<string, unknown>): Promise<void> {
  gateway.writeGatewayConfig(brokenOnKeyLine(config));
  gateway.child.kill('SIGHUP');
  await waitFor('the broken config refused', 5_000, async () =>
    ((await metricValue(gateway, 'config_reloads_total', { result: 'rejected' })) > 0 ? true : undefined));
}

describe('one log stream: JSON lines from our logger and EG\'s, governed by LOG_LEVEL', function () {
  this.timeout(30_000);
  let provider: StandInProvider;

  before(async () => { provider = await startProvider(); });
  after(async () => { await provider?.stop(); });
  afterEach(() => provider.reset());

  it('writes only JSON lines with level, time and msg, no colour codes, and no key, through errors and a rejected reload', async function () {
    const { gateway, config } = await startLogged(provider, 'debug');
    try {
      const auth = { 'x-api-key': CLIENT_KEY };
      expect((await postChat(gateway.url, auth)).status).to.equal(200);
      expect((await postChat(gateway.url, { 'x-api-key': `${CLIENT_KEY}x` })).status).to.equal(401);
      expect((await postChat(gateway.url)).status).to.equal(401);
      provider.handler = afterBody((_req, res) => sendJson(res, 401, JSON.stringify({ error: { message: `bad key Bearer ${PROVIDER_KEY}` } })));
      expect((await postChat(gateway.url, auth)).status).to.be.at.least(500);
      provider.handler = afterBody((_req, res) => sendJson(res, 400, JSON.stringify({ error: { message: `you sent ${PROVIDER_KEY} and ${CLIENT_KEY}` } })));
      expect((await postChat(gateway.url, auth)).status).to.equal(400);
      provider.handler = (exchange) => exchange.req.socket.destroy();
      expect((await postChat(gateway.url, auth)).status, 'upstreamFailureStatus default').to.equal(500);
      await reloadBrokenConfig(gateway, config);
    } finally {
      await gateway.stop();
    }
    const lines = parseStdout(gateway.stdout);
    const eg = lines.filter((line) => line.eg !== undefined);
    expect(eg.some((line) => line.eg === 'plugins' && line.msg.startsWith('Loaded plugin llm-gateway')), 'EG\'s start-up line').to.equal(true);
    expect(eg.some((line) => line.eg === 'config' && line.level === 50 && line.msg.startsWith('failed to (re)load gateway config: YAMLException')), 'EG\'s line on the broken YAML').to.equal(true);
    expect(lines.some((line) => line.msg.startsWith('config reload rejected')), 'our line on it').to.equal(true);
    expect(eg.some((line) => line.msg.startsWith('registering policy')), 'EG\'s debug lines (coloured by chalk at source)').to.equal(true);
    expect(eg.some((line) => line.eg === 'log-policy' && line.msg === CORE_LOG_MESSAGE), 'EG\'s log policy').to.equal(true);
    // Whole, and the ends of each: js-yaml shortens a long source line to its last characters.
    for (const secret of [CLIENT_KEY, sha256(CLIENT_KEY), PROVIDER_KEY].flatMap((s) => [s, s.slice(0, 16), s.slice(-16)])) {
      expect(gateway.logs.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the log (stdout or stderr)`).to.equal(false);
    }
  });

  it('drops info lines from both loggers at LOG_LEVEL=warn, and keeps their errors', async function () {
    const { gateway, config } = await startLogged(provider, 'warn');
    try {
      expect((await postChat(gateway.url, { 'x-api-key': CLIENT_KEY })).status).to.equal(200);
      await reloadBrokenConfig(gateway, config);
    } finally {
      await gateway.stop();
    }
    const lines = parseStdout(gateway.stdout);
    expect(lines.filter((line) => line.level < PINO_WARN), 'lines below warn').to.deep.equal([]);
    expect(lines.some((line) => line.eg === 'config' && line.level >= PINO_WARN), 'EG\'s error line').to.equal(true);
    expect(lines.some((line) => line.eg === undefined && line.level >= PINO_WARN), 'our error line').to.equal(true);
  });

  it('keeps EG\'s and our info lines at the default level', async function () {
    const { gateway } = await startLogged(provider, 'info');
    await gateway.stop();
    const lines = parseStdout(gateway.stdout);
    expect(lines.some((line) => line.eg === 'plugins' && line.level === PINO_INFO && line.msg.startsWith('Loaded plugin llm-gateway')), 'EG\'s info line').to.equal(true);
    expect(lines.some((line) => line.eg === undefined && line.level === PINO_INFO && line.msg === 'llm-gateway is running'), 'our info line').to.equal(true);
  });
});
