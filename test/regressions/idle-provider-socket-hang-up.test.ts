// test/regressions/idle-provider-socket-hang-up.test.ts
// A pooled connection the provider was about to close got a request written on it: "socket hang
// up", answered 500 (the Cluster slot-migration test failed 3 runs in 4 on it). Node's agent
// honours the provider's `Keep-Alive: timeout=N` hint only when it has a timeout of its own; now
// it has, and retires an idle connection a second before the provider would close it.

import { expect } from 'chai';
import { proxyStep, startGateway, step, type Gateway } from '../../testkit/gateway';
import { startProvider, type StandInProvider } from '../../testkit/provider';
import { sleep } from '../../testkit/wait';
import { postChat } from '../helpers/http';

const PROVIDER_KEEP_ALIVE_MS = 3000;

describe('regression: a request on a pooled connection the provider was closing ("socket hang up")', function () {
  let provider: StandInProvider;
  let gateway: Gateway;

  before(async () => {
    provider = await startProvider({ keepAliveTimeoutMs: PROVIDER_KEEP_ALIVE_MS });
    gateway = await startGateway({ providerUrl: provider.url, steps: [step('detail-error-formatter'), proxyStep()] });
  });
  after(async () => {
    await gateway?.stop();
    await provider?.stop();
  });

  it('reuses an idle connection well within the provider\'s keep-alive, and retires it a second before the provider closes it', async function () {
    expect((await postChat(gateway.url)).status).to.equal(200);
    await sleep(500);
    expect((await postChat(gateway.url)).status).to.equal(200);
    // Between the hint less a second (2 s) and the provider's own close (3 s).
    await sleep(PROVIDER_KEEP_ALIVE_MS - 500);
    expect((await postChat(gateway.url)).status).to.equal(200);
    const ports = provider.exchanges.map((exchange) => exchange.req.socket.remotePort);
    expect(ports[1], 'the second request reused the pooled connection').to.equal(ports[0]);
    expect(ports[2], 'the third came on a new connection: the old one was retired before the provider closed it').to.not.equal(ports[0]);
  });
});
