// plugin/http/catch-all.ts
// A policy only sees requests that reach its pipeline. Unmatched paths and errors passed to
// `next(err)` fall through to Express's finalhandler (HTML, with a stack trace outside
// production), so the plugin appends a JSON 404/405 handler and an error handler to the gateway
// app itself, once per app, when EG announces its HTTP server.

import type { Application, NextFunction, Request, Response } from 'express';
import type { EgConfig } from '../eg/types';
import { describeError, sendDetail } from '../errors';
import { logger } from '../logger';
import { MESSAGES } from '../messages';
import { ensureResponseRewriter } from './response-rewriter';
import { allowedMethods } from './route-table';

const appsWithCatchAll = new WeakSet<object>();

export function installCatchAll(app: Application, config: EgConfig): void {
  if (appsWithCatchAll.has(app)) return;
  appsWithCatchAll.add(app);

  app.use(function notFoundOrWrongMethod(req: Request, res: Response) {
    ensureResponseRewriter(res);
    const allowed = allowedMethods(config.gatewayConfig, req.hostname ?? '', req.path);
    if (allowed !== undefined && !allowed.includes(req.method)) {
      sendDetail(res, 405, MESSAGES.methodNotAllowed, { allow: allowed.join(', ') });
      return;
    }
    sendDetail(res, 404, MESSAGES.notFound);
  });

  app.use(function detailErrorHandler(error: unknown, _req: Request, res: Response, _next: NextFunction) {
    const described = describeError(error);
    // Core rate-limit answers through res.format(): a client whose Accept matches neither text nor
    // JSON turns its 429 into a 406 error. Its headers, set just before, show the client was
    // refused for the limit (an admitted request never reaches res.format); say so.
    if (described.status === 406 && Number(res.getHeader('x-ratelimit-remaining')) === 0 && res.getHeader('x-ratelimit-limit') !== undefined) {
      described.status = 429;
      described.detail = MESSAGES.tooManyRequests;
    }
    if (described.status >= 500) logger.error({ err: error }, 'request failed');
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    sendDetail(res, described.status, described.detail, described.headers);
  });
}
