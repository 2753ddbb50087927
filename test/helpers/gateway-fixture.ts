// test/helpers/gateway-fixture.ts
// The setup most suites share: the stand-in provider and one gateway child in front of it, started
// once before the suite and stopped after it.

import { type Gateway, startGateway, type StartOptions } from '../../testkit/gateway';
import { startProvider, type StandInProvider } from '../../testkit/provider';

/** The gateway's start options; its provider URL is always the provider's. */
export type FrontOptions = Omit<StartOptions, 'providerUrl'>;

export interface GatewayInFront {
  readonly provider: StandInProvider;
  readonly gateway: Gateway;
}

/**
 * Registers mocha before/after hooks in the calling describe block: starts the stand-in provider,
 * then a gateway in front of it; stops the gateway, then the provider, after the suite. `options`
 * gets the started provider, for configs that name its URL themselves.
 */
export function gatewayInFront(options: (provider: StandInProvider) => FrontOptions = () => ({})): GatewayInFront {
  let provider: StandInProvider | undefined;
  let gateway: Gateway | undefined;

  before(async function () {
    provider = await startProvider();
    gateway = await startGateway({ ...options(provider), providerUrl: provider.url });
  });

  after(async function () {
    await gateway?.stop();
    await provider?.stop();
  });

  // Read at describe time (instead of in a hook or test), the objects would not exist yet; say so
  // instead of letting `undefined.url` surface far from the cause.
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`gatewayInFront: the ${what} is not started (used outside a hook or test, or its before hook failed)`);
    return value;
  };
  return {
    get provider(): StandInProvider { return started(provider, 'provider'); },
    get gateway(): Gateway { return started(gateway, 'gateway'); },
  };
}
