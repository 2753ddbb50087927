// plugin/policies/proxy/proxy.ts
// Forwards the request to the LLM provider and streams its answer back. Built on Node's http
// client: http-proxy (the field's usual choice, once a declared dependency here) was measured
// against what this needs and left out. With a provider that reset an event stream after its
// first event, http-proxy 1.18 emitted no error and left the client's response open (still open
// after 15 s, where ours ends the stream with a last `{"detail"}` event at once); it has one
// socket-inactivity timeout where connect, first byte, idle gap and the whole exchange each need
// their own; and it forwards the client's Host unless told otherwise. The phases are in
// provider-exchange.ts, what depends only on the config in provider-route.ts.

import type { NextFunction, RequestHandler, Response } from 'express';
import type { EgConfig, GatewayRequest } from '../../eg/types';
import { sendDetail } from '../../errors';
import { ensureResponseRewriter } from '../../http/response-rewriter';
import { registerSecrets } from '../../http/secrets';
import { MESSAGES } from '../../messages';
import { resolveOptions } from '../resolve-options';
import { DEFAULTS, PROVIDER_KEY_ENV, type ProxyOptions } from './options';
import { ProviderExchange } from './provider-exchange';
import { buildRoute } from './provider-route';
import { refuseLargeBody } from './request-body';
import { originForm } from './request-target';

export function providerProxy(params: Readonly<Record<string, unknown>>, config: EgConfig): RequestHandler {
  const options: ProxyOptions = Object.freeze({
    ...resolveOptions(DEFAULTS, params),
    serviceEndpoint: String(params['serviceEndpoint']),
    providerApiKey: typeof params['providerApiKey'] === 'string' ? params['providerApiKey'] : (process.env[PROVIDER_KEY_ENV] ?? ''),
  });
  const route = buildRoute(options, config);

  const middleware = function proxyToProvider(req: GatewayRequest, res: Response, next: NextFunction): void {
    if (Number(req.headers['content-length'] ?? 0) > options.maxBodyBytes) {
      refuseLargeBody(req, res);
      return;
    }
    const path = originForm(req.url);
    if (path === undefined) {
      sendDetail(res, 400, MESSAGES.badRequest);
      req.resume();
      return;
    }
    // The provider's answers go through the formatter even in a pipeline without its step.
    ensureResponseRewriter(res);
    new ProviderExchange(route, req, res, path).start(next);
  };
  registerSecrets(middleware, [options.providerApiKey]);
  return middleware;
}
