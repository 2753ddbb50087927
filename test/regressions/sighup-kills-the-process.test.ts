// test/regressions/sighup-kills-the-process.test.ts
// Issue 13, defect 8: SIGHUP ended the gateway at once (Node's default, exit 129), without a
// drain. It now re-reads the config through the same guard as a file edit: a good config is
// applied, a bad one refused while the old one serves, and the process never stops for it.

import { expect } from 'chai';
import { buildGatewayConfig, proxyStep, startGateway, step, type Gateway, type GatewayPorts } from '../../testkit/gateway';
import { call, postChat } from '../helpers/http';
import { eventually, sleep } from '../../testkit/wait';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const OLD_KEY = 'sighup-old-key-0123456789abcdef0123456';
const NEW_KEY = 'sighup-new-key-0123456789abcdef0123456';
const KEPT_KEY = 'sighup-kept-key-0123456789abcdef012345';

const reloads = (text: string, result: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`config_reloads_total{result="${result}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('regression: SIGHUP killed the process (issue 13, defect 8)', function () {
  let upstream: StandInProvider;
  let gateway: Gateway;
  let ports: GatewayPorts;
  const config = (key: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...buildGatewayConfig({ port: ports.port, providerUrl: upstream.url, steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'k', key }] }), proxyStep()] }),
    ...extra,
  });
  const metrics = async (): Promise<string> => (await call(`${gateway.opsUrl}/metrics`)).text;

  before(async () => {
    upstream = await startProvider();
    // No file watcher: whatever changes below changes only because of the signal.
    gateway = await startGateway({ providerUrl: upstream.url, env: { EG_DISABLE_CONFIG_WATCH: '1' }, gatewayConfig: (p) => { ports = p; return config(OLD_KEY); } });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });

  it('re-reads the config on SIGHUP and applies it, without stopping', async function () {
    gateway.writeGatewayConfig(config(NEW_KEY));
    await sleep(300);
    expect((await postChat(gateway.url, { 'x-api-key': NEW_KEY })).status, 'no watcher: nothing changed yet').to.equal(401);
    const applied = reloads(await metrics(), 'applied');
    process.kill(gateway.child.pid as number, 'SIGHUP');
    expect(await eventually(async () => (await postChat(gateway.url, { 'x-api-key': NEW_KEY })).status === 200, 5_000), gateway.logs).to.equal(true);
    expect((await postChat(gateway.url, { 'x-api-key': OLD_KEY })).status).to.equal(401);
    expect(reloads(await metrics(), 'applied')).to.equal(applied + 1);
    expect(gateway.hasExited).to.equal(false);
  });

  it('refuses a bad config on SIGHUP, keeps serving the old one, and stays up', async function () {
    // The old config: one with a key of its own, applied through SIGHUP first.
    gateway.writeGatewayConfig(config(KEPT_KEY));
    process.kill(gateway.child.pid as number, 'SIGHUP');
    expect(await eventually(async () => (await postChat(gateway.url, { 'x-api-key': KEPT_KEY })).status === 200, 5_000), gateway.logs).to.equal(true);
    const rejected = reloads(await metrics(), 'rejected');
    gateway.writeGatewayConfig(config(NEW_KEY, { policies: ['no-such-policy'] }));
    process.kill(gateway.child.pid as number, 'SIGHUP');
    expect(await eventually(async () => reloads(await metrics(), 'rejected') > rejected, 5_000), gateway.logs).to.equal(true);
    expect((await postChat(gateway.url, { 'x-api-key': KEPT_KEY })).status).to.equal(200);
    expect((await postChat(gateway.url, { 'x-api-key': NEW_KEY })).status).to.equal(401);
    await sleep(200);
    expect(gateway.hasExited).to.equal(false);
    expect(gateway.logs).to.include('SIGHUP: re-reading');
  });
});
